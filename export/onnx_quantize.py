"""Keras generator -> ONNX int8 (static QDQ) through onnxruntime's quantizer.

The float32 graph comes from :mod:`gantool.export.keras_to_onnx`; it is
pre-processed (``quant_pre_process``: graph optimization and shape inference),
then ``quantize_static`` inserts QuantizeLinear/DequantizeLinear pairs with
per-channel int8 weights and int8 activations calibrated (MinMax) on latents
drawn with the documented convention. The contract travels over with
``quantization="int8"`` and the calibration size.

Fully connected layers (Gemm/MatMul: the generator's latent projection) stay
in float: quantizing ``z`` itself to 8 bits puts the same rounding noise into
every pixel, and on a well-trained generator that noise decides the worst
pixels (the largest error shrinks markedly with the projection in float; docs/
has the figures). The projection is a small share of the generator's
multiply-adds but about half its weights, so the file is larger than with every
layer int8 (still under two thirds of fp32).

onnxruntime's CPU provider fuses QDQ pairs into integer kernels where it has
them; others (ConvTranspose among them, depending on the version) run in float
between the Q/DQ nodes, so the file is smaller but not necessarily faster.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

from gantool.errors import ConversionError, first_line
from gantool.export import canonical
from gantool.export.keras_to_onnx import (
    attach_contract,
    finish_graph,
    graph_kind,
    save_validated,
    session_record,
    set_session_settings,
    to_onnx_proto,
)
from gantool.export.validate import ExportResult, calibration_latents, model_inputs
from gantool.runtime.contract import ModelContract

# Latents per calibration batch; MinMax calibration keeps the global extremes,
# so the split only bounds memory.
CALIBRATION_BATCH = 64
# Operator types kept in float (the latent projection; see the module docstring).
FULLY_CONNECTED = ("Gemm", "MatMul")


def _calibration_reader(contract: ModelContract, count: int):
    """A ``CalibrationDataReader`` over ``count`` latents of the documented convention."""
    from onnxruntime.quantization import CalibrationDataReader

    z, labels = model_inputs(calibration_latents(contract.latent_dim, count), contract.num_classes)

    def feed(start: int) -> dict[str, np.ndarray]:
        batch = {contract.input_name: z[start : start + CALIBRATION_BATCH]}
        if labels is not None:
            batch[contract.label_name] = labels[start : start + CALIBRATION_BATCH]
        return batch

    class LatentReader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(feed(start) for start in range(0, count, CALIBRATION_BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    return LatentReader()


def quantize_proto(float_proto, contract: ModelContract, calibration_size: int):
    """Quantize a float32 ``onnx.ModelProto`` to static QDQ int8; return the new proto and the
    operator types left in float.

    Raises:
        ConversionError: onnxruntime's quantizer failed.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="gantool-int8-") as work:
        float_path, prepared, quantized = (Path(work) / name for name in ("fp32.onnx", "prep.onnx", "int8.onnx"))
        canonical.save(float_proto, float_path)
        # The quantizer logs progress through `logging` and print(); the export report says what matters.
        quiet = contextlib.redirect_stdout(io.StringIO())
        try:
            with quiet, _quiet_logging():
                # Symbolic shape inference (which needs sympy) adds nothing here: the
                # only symbolic axis is the batch, which ONNX shape inference carries.
                quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
                prepared_proto = onnx.load(prepared)
                kept_float = fully_connected(prepared_proto)
                float_ops = tuple(sorted({n.op_type for n in prepared_proto.graph.node if n.name in kept_float}))
                quantize_static(
                    prepared, quantized, _calibration_reader(contract, calibration_size),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=kept_float,
                )
        except Exception as exc:  # the quantizer raises bare Exceptions, ValueErrors, onnx errors...
            raise ConversionError(f"onnxruntime int8 quantization failed ({first_line(exc)}); "
                                  "export without quantization instead") from None
        return onnx.load(quantized), float_ops


def fully_connected(proto) -> list[str]:
    """Names of the fully connected (Gemm/MatMul) nodes, which :func:`quantize_proto` keeps in float."""
    return [node.name for node in proto.graph.node if node.op_type in FULLY_CONNECTED]


@contextlib.contextmanager
def _quiet_logging():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def convert(keras_model, contract: ModelContract, out: Path, entry, options) -> ExportResult:
    """Registry converter for ``onnx/int8`` (see :mod:`gantool.export.registry`).

    Raises:
        ConversionError: quantization failed.
        ExportValidationError: the int8 model breaches ``entry.tolerance``; nothing is written.
    """

    size = entry.calibration_size(options)
    from gantool.export.graph_rules import build, graph_facts, int8_base

    float_contract = contract.replace(quantization="none", calibration_size=0)
    plain = to_onnx_proto(keras_model, float_contract, options.opset)
    kind = int8_base(graph_facts(plain), options.graph)
    float_proto = finish_graph(build(plain, kind, quantized=True), float_contract, kind)
    proto, float_ops = quantize_proto(float_proto, contract, size)
    int8_contract = contract.replace(quantization="int8", calibration_size=size, float_ops=float_ops)
    # The quantizer does not promise to keep metadata_props: carry them over, then the int8 contract.
    canonical.set_metadata(proto, {p.key: p.value for p in float_proto.metadata_props})
    set_session_settings(proto)  # the rules read the quantized graph, not the float one it came from
    attach_contract(proto, int8_contract)
    parity = save_validated(proto, keras_model, int8_contract, out, entry.tolerance.max_abs, entry.tolerance.mean_abs)
    return ExportResult(out, parity, graph=graph_kind(proto), float_ops=float_ops, calibration_size=size,
                        session=session_record(proto))
