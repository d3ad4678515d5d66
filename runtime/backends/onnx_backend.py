"""onnxruntime backend for ``.onnx`` generators (CPU execution provider)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gantool.errors import ContractError, ModelFileError, first_line
from gantool.runtime.contract import (
    METADATA_KEY,
    GraphTensor,
    ModelContract,
    contract_from_graph,
)
from gantool.runtime.onnx_metadata import read_metadata, session_record

# onnxruntime >= 1.30 writes telemetry files under ~/.cache on import unless told not to.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def session_options(threads: int | None, spin_wait: bool = True, memory_arena: bool = True):
    """SessionOptions with deterministic, bounded threading.

    Args:
        threads: intra-op threads (None: onnxruntime's default, one per core).
        spin_wait: let idle worker threads spin between operators. A one-shot
            run gains nothing from it: the workers would keep spinning through
            whatever follows the only run (``gantool sample``'s PNG encoding),
            taking CPU time from it.
        memory_arena: keep onnxruntime's CPU memory arena (its buffers stay allocated between runs,
            as large as the largest batch run so far); off for sessions held side by side.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = memory_arena
    if not spin_wait:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def file_settings(path: Path) -> dict:
    """The onnxruntime settings the file's export rules chose (:data:`SESSION_METADATA_KEY`), read from the
    file before a session exists; ``{}`` where it names none. Only ``disabled_optimizers`` is applied: turning
    an optimizer off changes how fast a graph runs, never what it computes."""
    record = session_record(read_metadata(path))
    return {"disabled_optimizers": record["disabled_optimizers"]} if record else {}


class OnnxBackend:
    """A generator running in onnxruntime, with the session settings its file names (:func:`file_settings`)."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None, spin_wait: bool = True,
                 memory_arena: bool = True, apply_file_settings: bool = True) -> None:
        """``apply_file_settings=False`` opens the file with onnxruntime's defaults (benchmarks compare the two)."""
        import onnxruntime as ort

        self.settings = file_settings(path) if apply_file_settings else {}
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=session_options(threads, spin_wait, memory_arena),
                providers=["CPUExecutionProvider"], **self.settings,
            )
        except Exception as exc:  # onnxruntime raises several private exception types
            raise ModelFileError(f"{path} is not a loadable ONNX model ({first_line(exc)})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        # True for a (batch, height, width) model without metadata: run() adds the channel axis.
        self._add_channel_axis = False
        self.contract_inferred = False
        if METADATA_KEY not in metadata:
            self.contract, self._add_channel_axis = contract_from_graph(path, *graph_tensors(self.session))
            self.contract_inferred = True
            return
        self.contract = ModelContract.from_json(metadata[METADATA_KEY])
        inputs = [i.name for i in self.session.get_inputs()]
        wanted = [self.contract.input_name] + ([self.contract.label_name] if self.contract.conditional else [])
        if sorted(wanted) != sorted(inputs):
            raise ContractError(f"{path}: contract names inputs {wanted}, graph has {inputs}")
        check_graph_shapes(self.session, self.contract, path)

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        feed = {self.contract.input_name: z}
        if self.contract.conditional:
            feed[self.contract.label_name] = self.contract.check_labels(labels, len(z))
        (images,) = self.session.run([self.contract.output_name], feed)
        return images[..., None] if self._add_channel_axis else images


def _describe(shape) -> str:
    return "(" + ", ".join(str(d) if d is not None else "?" for d in shape) + ")"


def graph_tensors(session) -> tuple[list[GraphTensor], list[GraphTensor]]:
    """The session's inputs and outputs in the runtime's shared words (symbolic sizes -> None)."""
    def tensor(arg) -> GraphTensor:
        dtype = "float32" if arg.type == "tensor(float)" else arg.type
        return GraphTensor(arg.name, tuple(d if isinstance(d, int) else None for d in arg.shape), dtype)

    return [tensor(t) for t in session.get_inputs()], [tensor(t) for t in session.get_outputs()]


def check_graph_shapes(session, contract: ModelContract, path: Path) -> None:
    """Refuse a file whose graph disagrees with its own contract now, rather than failing mid-run."""
    inputs = {t.name: t.shape for t in session.get_inputs()}
    outputs = {t.name: t.shape for t in session.get_outputs()}
    if contract.output_name not in outputs:
        raise ContractError(f"{path}: contract names output {contract.output_name!r}, graph has {list(outputs)}")
    expected = {contract.input_name: (contract.latent_dim,), contract.output_name: tuple(contract.image_shape)}
    actual = {contract.input_name: inputs[contract.input_name], contract.output_name: outputs[contract.output_name]}
    for name, dims in expected.items():
        shape = actual[name]
        if not shape:  # rank unknown to the graph: nothing to check before running it
            continue
        if len(shape) != len(dims) + 1 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], dims, strict=False)):
            raise ContractError(
                f"{path}: graph {name!r} has shape {_describe(shape)} but its contract says (batch, "
                f"{', '.join(map(str, dims))}); the file was altered after export, export it again with `gantool export`"
            )


def open_model(path: Path, threads: int | None = None, spin_wait: bool = True) -> OnnxBackend:
    return OnnxBackend(path, threads, spin_wait)
