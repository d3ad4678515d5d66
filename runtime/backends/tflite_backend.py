"""LiteRT backend for ``.tflite`` generators (``ai-edge-litert``, the ``tflite`` extra).

The model contract is read from the file's own metadata (entry
``gantool.contract`` of the flatbuffer's ``Model.metadata``), parsed with the
flatbuffer schema that ai-edge-litert ships, so no TensorFlow is needed. A
file without it (one converted by ``TFLiteConverter`` outside gantool) gets the
contract its input and output tensors imply, by the rule every backend shares
(:func:`gantool.runtime.contract.contract_from_graph`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gantool.errors import ContractError, MissingExtraError, ModelFileError, first_line
from gantool.runtime.backends.base import cpu_count
from gantool.runtime.contract import (
    MAX_METADATA_BYTES,
    METADATA_KEY,
    GraphTensor,
    ModelContract,
    contract_from_graph,
)

EXTRA_HINT = "install it with: pip install 'gantool[tflite]'"


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise MissingExtraError(f"running a .tflite model needs ai-edge-litert; {EXTRA_HINT}") from None
    return Interpreter


def require_litert() -> None:
    """Raise :class:`MissingExtraError` now if LiteRT is not installed.

    ``gantool export --format tflite`` validates every file with LiteRT; checking
    first spares the user the TensorFlow conversion that would fail at the end.
    """
    _interpreter_class()


def read_metadata(model_bytes: bytes, name: str) -> bytes | None:
    """The payload of metadata entry ``name`` in a TFLite flatbuffer, or None if absent.

    Call it only on bytes the interpreter has verified: the generated reader
    trusts the offsets it follows.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(model_bytes, 0)
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name() != name.encode():
            continue
        buffer = model.Buffers(entry.Buffer())
        # Buffers of models over 2 GB live after the flatbuffer, addressed by offset and size.
        if buffer.Offset() > 1:
            return model_bytes[buffer.Offset() : buffer.Offset() + buffer.Size()]
        return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    return None


class TFLiteBackend:
    """A generator running in the LiteRT interpreter (XNNPACK on CPU)."""

    name = "litert"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        interpreter_class = _interpreter_class()
        model_bytes = Path(path).read_bytes()
        try:
            self.interpreter = interpreter_class(model_content=model_bytes, num_threads=threads or cpu_count())
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for unreadable models
            raise ModelFileError(f"{path} is not a loadable TFLite model ({first_line(exc)}); export it again") from None
        contract = self._read_contract(path, model_bytes)
        # True for a (batch, height, width) model without metadata: _invoke adds the channel axis.
        self._add_channel_axis = False
        self.contract_inferred = contract is None
        if contract is None:
            contract, self._add_channel_axis = contract_from_graph(path, *self._graph_tensors())
        self.contract = contract
        self._input, self._output, self._static_batch = self._check_io(path)
        self._batch = None

    @staticmethod
    def _read_contract(path: Path, model_bytes: bytes) -> ModelContract | None:
        """The contract in the file's metadata, or None when it has none."""
        try:
            payload = read_metadata(model_bytes, METADATA_KEY)
        except Exception:  # the generated reader raises struct/index errors on odd files
            raise ModelFileError(f"{path}: cannot read the TFLite metadata; export it again") from None
        if payload is None:
            return None
        if len(payload) > MAX_METADATA_BYTES:
            raise ContractError(f"{path}: the model contract is larger than {MAX_METADATA_BYTES} bytes; refusing it")
        return ModelContract.from_json(payload)

    def _graph_tensors(self) -> tuple[list[GraphTensor], list[GraphTensor]]:
        """The interpreter's inputs and outputs in the runtime's shared words (open sizes, -1, -> None)."""
        def tensor(detail) -> GraphTensor:
            shape = tuple(int(d) if d > 0 else None for d in detail["shape_signature"])
            return GraphTensor(detail["name"], shape, np.dtype(detail["dtype"]).name)

        return ([tensor(d) for d in self.interpreter.get_input_details()],
                [tensor(d) for d in self.interpreter.get_output_details()])

    def _check_io(self, path: Path) -> tuple[int, int, int | None]:
        """Input and output tensor indices and the static batch (None if dynamic), checked against the contract.

        A conditional model's label input is found by name (``self._label``); the latent input is the other one.
        """
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        wanted = 2 if self.contract.conditional else 1
        if len(inputs) != wanted or len(outputs) != 1:
            raise ContractError(f"{path}: expected {wanted} input(s) and one output, got {len(inputs)} and {len(outputs)}")
        self._label = None
        if self.contract.conditional:
            labels = [d for d in inputs if self.contract.label_name in d["name"]]
            if len(labels) != 1 or labels[0]["dtype"] != np.int32:
                raise ContractError(f"{path}: no int32 input named {self.contract.label_name!r} for the class label")
            self._label = labels[0]["index"]
            inputs = [d for d in inputs if d["index"] != self._label]
        in_shape = tuple(int(d) for d in inputs[0]["shape_signature"])
        out_shape = tuple(int(d) for d in outputs[0]["shape_signature"])
        graph_output = self.contract.output_shape[:-1] if self._add_channel_axis else self.contract.output_shape
        if in_shape[1:] != (self.contract.latent_dim,) or out_shape[1:] != graph_output:
            raise ContractError(
                f"{path}: graph maps {in_shape} -> {out_shape}, contract says latent_dim "
                f"{self.contract.latent_dim} -> {self.contract.output_shape}"
            )
        if inputs[0]["dtype"] != np.float32 or outputs[0]["dtype"] != np.float32:
            raise ContractError(f"{path}: expected float32 input and output, got {inputs[0]['dtype']} and {outputs[0]['dtype']}")
        # gantool exports a static batch (fast XNNPACK kernels); other files may have a dynamic one (-1).
        static_batch = in_shape[0] if in_shape[0] > 0 else None
        return inputs[0]["index"], outputs[0]["index"], static_batch

    def _invoke(self, z: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        if z.shape[0] != self._batch:
            # Shapes are fixed at allocation time; re-plan only when the batch changes.
            self.interpreter.resize_tensor_input(self._input, list(z.shape), strict=False)
            if self._label is not None:
                self.interpreter.resize_tensor_input(self._label, [z.shape[0]], strict=False)
            self.interpreter.allocate_tensors()
            self._batch = z.shape[0]
        self.interpreter.set_tensor(self._input, z)
        if self._label is not None:
            self.interpreter.set_tensor(self._label, labels)
        self.interpreter.invoke()
        images = self.interpreter.get_tensor(self._output)
        return images[..., None] if self._add_channel_axis else images

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        z = np.ascontiguousarray(z, dtype=np.float32)
        labels = self.contract.check_labels(labels, len(z)) if self.contract.conditional else None
        size = self._static_batch
        if size is None:
            return self._invoke(z, labels)
        # A static-batch model runs the batch in chunks of its size; the last one is zero-padded.
        out = np.empty((len(z), *self.contract.output_shape), dtype=np.float32)
        for start in range(0, len(z), size):
            chunk = z[start : start + size]
            chunk_labels = None if labels is None else labels[start : start + size]
            count = len(chunk)
            if count < size:
                chunk = np.concatenate([chunk, np.zeros((size - count, z.shape[1]), dtype=np.float32)])
                if chunk_labels is not None:
                    chunk_labels = np.concatenate([chunk_labels, np.zeros(size - count, dtype=np.int32)])
            out[start : start + count] = self._invoke(chunk, chunk_labels)[:count]
        return out


def open_model(path: Path, threads: int | None = None, spin_wait: bool = True) -> TFLiteBackend:
    # LiteRT's Python API has no spin setting; the argument keeps one signature for every backend.
    return TFLiteBackend(path, threads)
