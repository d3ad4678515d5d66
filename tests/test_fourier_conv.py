"""The DFT form of a "same" convolution (gantool.export.fourier_conv): exact in float64, and the graph
rewrite matches onnxruntime's own Conv in float32."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.export.fourier_conv import MIN_CHANNEL_PRODUCT, dft_conv, frequencies

RNG = np.random.default_rng(0)


def direct_same_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ONNX Conv (cross-correlation) with pads (k-1)/2, in float64: x [b, c, n, n], w [o, c, k, k]."""
    size, k = x.shape[-1], w.shape[-1]
    pad = (k - 1) // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    y = np.zeros((x.shape[0], w.shape[0], size, size))
    for kh in range(k):
        for kw in range(k):
            y += np.einsum("bchw,oc->bohw", padded[:, :, kh:kh + size, kw:kw + size], w[:, :, kh, kw])
    return y


def dft_same_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The same convolution through :func:`dft_conv`'s matrices, laid out as the ONNX rewrite does."""
    batch, channels, size, _ = x.shape
    out, k = w.shape[0], w.shape[-1]
    m = dft_conv(size, k)
    spectrum = (m.forward @ x.transpose(2, 3, 0, 1).reshape(size * size, -1)).reshape(m.count, 2 * batch, channels)
    kernel = (m.kernel @ w.transpose(2, 3, 1, 0).reshape(k * k, -1)).reshape(2, m.count, channels, out)
    products = (spectrum[None] @ kernel).reshape(4 * m.count, -1)
    return (m.inverse @ products).reshape(size, size, batch, out).transpose(2, 3, 0, 1)


@pytest.mark.parametrize("size,kernel", [(7, 5), (6, 5), (4, 3), (7, 3), (5, 7), (1, 3)])
def test_dft_conv_is_exact_in_float64(size, kernel):
    x = RNG.standard_normal((3, 4, size, size))
    w = RNG.standard_normal((5, 4, kernel, kernel))
    assert np.abs(dft_same_conv(x, w) - direct_same_conv(x, w)).max() < 1e-12


@pytest.mark.parametrize("size,count", [(11, 61), (10, 52), (2, 4)])
def test_frequencies_keep_one_of_each_conjugate_pair(size, count):
    kept = frequencies(size)
    assert len(kept) == count == (size * size + (4 if size % 2 == 0 else 1)) // 2
    conjugates = {((-a) % size, (-b) % size) for a, b in kept}
    assert len(set(kept)) == count and len(set(kept) | conjugates) == size * size


def test_even_kernel_is_refused():
    with pytest.raises(ValueError, match="odd kernel"):
        dft_conv(7, 4)


def _dense_reshape_conv(channels: int, out: int, size: int, kernel: int, pads: int):
    """z -> Gemm -> LeakyRelu -> Reshape(NCHW) -> Conv: the pattern the rewrite looks for."""
    from onnx import TensorProto, helper, numpy_helper

    latent = 8
    consts = {
        "dense_w": RNG.standard_normal((latent, channels * size * size)).astype(np.float32),
        "dense_b": RNG.standard_normal(channels * size * size).astype(np.float32),
        "shape": np.array([-1, channels, size, size], np.int64),
        "conv_w": (RNG.standard_normal((out, channels, kernel, kernel)) / (kernel * np.sqrt(channels))).astype(np.float32),
        "conv_b": RNG.standard_normal(out).astype(np.float32),
    }
    nodes = [
        helper.make_node("Gemm", ["z", "dense_w", "dense_b"], ["d"]),
        helper.make_node("LeakyRelu", ["d"], ["a"], alpha=0.3),
        helper.make_node("Reshape", ["a", "shape"], ["x"]),
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["y"], pads=[pads] * 4, kernel_shape=[kernel, kernel]),
        helper.make_node("Relu", ["y"], ["out"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", latent])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", out, size, size])],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("batch", [1, 5, 64])
def test_rewrite_matches_onnxruntime_conv(batch):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from gantool.export.fourier_conv import rewrite_first_conv
    from gantool.export.onnx_graph import EditableGraph, tensor_ranks

    from .test_onnx_optimize import run

    proto = _dense_reshape_conv(channels=64, out=64, size=7, kernel=5, pads=2)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(proto)
    graph = EditableGraph(rewritten.graph, tensor_ranks(rewritten))
    assert rewrite_first_conv(graph)
    graph.write_back()
    onnx.checker.check_model(rewritten, full_check=True)
    assert "Conv" not in {n.op_type for n in rewritten.graph.node}
    z = RNG.standard_normal((batch, 8)).astype(np.float32)
    expected, got = run(proto, {"z": z}), run(rewritten, {"z": z})
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("channels,out,kernel,pads", [(64, 64, 5, 1), (64, 64, 4, 1), (16, 16, 5, 2)])
def test_rewrite_leaves_other_convs_alone(channels, out, kernel, pads):
    """Not 'same' padding, an even kernel, or too few channels for the DFT to pay: the Conv stays."""
    pytest.importorskip("onnx")
    from gantool.export.fourier_conv import rewrite_first_conv
    from gantool.export.onnx_graph import EditableGraph, tensor_ranks

    assert channels * out < MIN_CHANNEL_PRODUCT or kernel % 2 == 0 or pads != (kernel - 1) // 2
    proto = _dense_reshape_conv(channels, out, size=7, kernel=kernel, pads=pads)
    graph = EditableGraph(proto.graph, tensor_ranks(proto))
    assert not rewrite_first_conv(graph)
    assert [n.op_type for n in graph.nodes] == ["Gemm", "LeakyRelu", "Reshape", "Conv", "Relu"]
