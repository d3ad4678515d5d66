"""onnxruntime backend for ``.onnx`` generators (CPU execution provider)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gantool.errors import ContractError, ModelFileError
from gantool.runtime.contract import METADATA_KEY, ModelContract

# onnxruntime >= 1.30 writes telemetry files under ~/.cache on import unless told not to.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def session_options(threads: int | None, spin_wait: bool = True):
    """SessionOptions with deterministic, bounded threading.

    Args:
        threads: intra-op threads (None: onnxruntime's default, one per core).
        spin_wait: let idle worker threads spin between operators. A one-shot
            run gains nothing from it: measured on ``gantool sample`` (64 digits,
            2 busy cores), turning it off saved 15% of the process's CPU time and
            ~50 ms of wall time, because workers no longer spin through the
            PNG encoding after the only run.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not spin_wait:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxBackend:
    """A generator running in onnxruntime."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None, spin_wait: bool = True) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(threads, spin_wait), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises several private exception types
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{path} is not a loadable ONNX model ({first_line[:200]})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ContractError(
                f"{path} has no gantool contract in its metadata; export it with `gantool export`"
            )
        self.contract = ModelContract.from_json(metadata[METADATA_KEY])
        inputs = [i.name for i in self.session.get_inputs()]
        if self.contract.input_name not in inputs:
            raise ContractError(f"{path}: contract names input {self.contract.input_name!r}, graph has {inputs}")

    def run(self, z: np.ndarray) -> np.ndarray:
        (images,) = self.session.run([self.contract.output_name], {self.contract.input_name: z})
        return images


def open_model(path: Path, threads: int | None = None, spin_wait: bool = True) -> OnnxBackend:
    return OnnxBackend(path, threads, spin_wait)
