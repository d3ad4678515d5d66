"""Standard ONNX, not onnxruntime's dialect: every ONNX graph gantool writes runs in ``onnx.reference``.

``onnx.reference.ReferenceEvaluator`` computes each operator from its specification in numpy, so
a graph that leans on an onnxruntime-only operator, domain or attribute fails here even where
onnxruntime runs it. Each graph is held to its registry bound against its Keras source (float64,
as every export's own validation is); the bundled models, whose source is not shipped, against
the goldens of tests/golden (scripts/make_goldens.py). The evaluator is slow, so a few latents
each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gantool.export.registry import DEFAULT_CALIBRATION_SIZE, lookup
from gantool.runtime.generator import default_model_path

onnx = pytest.importorskip("onnx")
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.ops import load_op  # noqa: E402
from onnx.reference.ops.op_dequantize_linear import DequantizeLinear_23  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
LATENTS = 3
FP32 = lookup("onnx", "none").tolerance
INT8 = lookup("onnx", "int8").tolerance


class DequantizeLinear(DequantizeLinear_23):
    """DequantizeLinear-13 for an evaluator that implements the operator only from version 19 on
    (onnx 1.23 registers 19, 21, 23 and 25). The later versions added float8 and float4 inputs,
    block quantization and an output type; on int8 with per-axis scales (the int8 exports' case)
    with those attributes at their defaults, they compute what version 13 specifies."""

    op_domain = ""


def evaluate(proto, z: np.ndarray) -> np.ndarray:
    """Run ``proto`` on latents ``z`` in onnx's reference evaluator."""
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    new_ops = []
    if any(node.op_type == "DequantizeLinear" for node in proto.graph.node):
        try:
            load_op("", "DequantizeLinear", opset)
        except RuntimeError:  # the evaluator's gap, not the graph's: see DequantizeLinear
            new_ops.append(DequantizeLinear)
    (images,) = ReferenceEvaluator(proto, new_ops=new_ops).run(None, {proto.graph.input[0].name: z})
    return images


def assert_within(got: np.ndarray, expected: np.ndarray, tolerance, what: str) -> None:
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    assert diff.max() <= tolerance.max_abs, f"{what}: max |Δ| {diff.max():.3g} above {tolerance.describe()}"
    if tolerance.mean_abs is not None:
        assert diff.mean() <= tolerance.mean_abs, f"{what}: mean |Δ| {diff.mean():.3g} above {tolerance.describe()}"


@pytest.mark.parametrize("name, tolerance", [("bundled", FP32), ("bundled-int8", INT8)])
def test_bundled_models_are_standard_onnx(name, tolerance):
    """The shipped files against the goldens (measured: fp32 within 3.7e-6 of them)."""
    z = np.load(GOLDEN / "latents.npy", allow_pickle=False)[:LATENTS]
    expected = np.load(GOLDEN / "expected.npy", allow_pickle=False)[:LATENTS]
    assert_within(evaluate(onnx.load(default_model_path(name)), z), expected, tolerance, f"{name} in onnx.reference")


@pytest.fixture(scope="module")
def written_graphs(tiny_keras) -> dict[str, object]:
    """The graphs gantool's ONNX exports write, made as the converters make them: one tf2onnx
    conversion, the optimizer with and without its DFT first layer, and the int8 QDQ quantizer
    on the direct-Conv graph (as ``onnx/int8`` does)."""
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.onnx_optimize import optimize
    from gantool.export.onnx_quantize import quantize_proto

    keras_model, contract = tiny_keras
    plain = to_onnx_proto(keras_model, contract)
    optimized = optimize(plain, fourier=False)
    int8, _ = quantize_proto(optimized, contract, DEFAULT_CALIBRATION_SIZE)
    return {"plain": plain, "optimized": optimized, "fourier": optimize(plain, fourier=True), "int8": int8}


@pytest.mark.slow
@pytest.mark.parametrize("kind, tolerance", [("plain", FP32), ("optimized", FP32), ("fourier", FP32), ("int8", INT8)])
def test_written_graphs_are_standard_onnx(tiny_keras, written_graphs, kind, tolerance):
    from gantool.export.validate import reference_outputs
    from gantool.runtime.contract import latents

    keras_model, contract = tiny_keras
    proto = written_graphs[kind]
    onnx.checker.check_model(proto, full_check=True)
    assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}, f"{kind}: operators outside the standard"
    z = latents(LATENTS, contract.latent_dim, seed=11)
    assert_within(evaluate(proto, z), reference_outputs(keras_model, z), tolerance, f"{kind} graph in onnx.reference")
