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
        # True for a (batch, height, width) model without metadata: run() adds the channel axis.
        self._add_channel_axis = False
        if METADATA_KEY not in metadata:
            self.contract, self._add_channel_axis = contract_from_graph(self.session, path)
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


def _fixed(dims) -> bool:
    return all(isinstance(d, int) and d > 0 for d in dims)


def contract_from_graph(session, path: Path) -> tuple[ModelContract, bool]:
    """The contract of an ONNX model without gantool metadata, read from its graph.

    Only a graph that says everything but the value range qualifies: one float
    input ``(batch, latent_dim)`` and one float output ``(batch, height, width,
    channels)`` or ``(batch, height, width)``, all sizes but the batch fixed. A
    graph cannot say its value range, so [-1, 1] (a tanh output, as in the DCGAN
    paper and the TensorFlow tutorial) is assumed; ``gantool info`` shows arch and
    gantool version ``unknown`` for such a file.

    Returns:
        The contract, and True when the output has no channel axis (``run`` adds one).

    Raises:
        ContractError: the graph is not such a generator.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if not (len(inputs) == 1 and len(outputs) == 1 and inputs[0].type == outputs[0].type == "tensor(float)"
            and len(inputs[0].shape) == 2 and len(outputs[0].shape) in (3, 4)
            and _fixed(inputs[0].shape[1:]) and _fixed(outputs[0].shape[1:])):
        graph = ", ".join(f"{t.name} {_describe(t.shape)} {t.type}" for t in inputs) + " -> " + ", ".join(
            f"{t.name} {_describe(t.shape)} {t.type}" for t in outputs)
        raise ContractError(
            f"{path} has no gantool contract in its metadata and its graph ({graph}) is not a float "
            "(batch, latent_dim) -> (batch, height, width[, channels]) generator; export it with `gantool export`"
        )
    image_shape = list(outputs[0].shape[1:]) + ([1] if len(outputs[0].shape) == 3 else [])
    contract = ModelContract.from_dict({
        "latent_dim": inputs[0].shape[1], "image_shape": image_shape, "value_range": [-1.0, 1.0],
        "arch": "unknown", "gantool_version": "unknown", "input_name": inputs[0].name, "output_name": outputs[0].name,
    })
    return contract, len(outputs[0].shape) == 3


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
        if len(shape) != len(dims) + 1 or any(isinstance(d, int) and d != e for d, e in zip(shape[1:], dims)):
            raise ContractError(
                f"{path}: graph {name!r} has shape {_describe(shape)} but its contract says (batch, "
                f"{', '.join(map(str, dims))}); the file was altered after export, export it again with `gantool export`"
            )


def open_model(path: Path, threads: int | None = None, spin_wait: bool = True) -> OnnxBackend:
    return OnnxBackend(path, threads, spin_wait)
