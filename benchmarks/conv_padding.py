"""How close is the optimized generator's big convolution to this CPU's peak, and can skipping its padding help?

Usage: python benchmarks/conv_padding.py [MODEL.onnx] [--threads 2] [--rounds 15]
(default model: the bundled one)

The first Conv of the optimized graph (the stride-1 5x5 layer on the 7x7 map,
256 -> 128 channels) is most of the generator's time. This script, with
onnxruntime only and spinning off so that interleaved sessions do not steal
each other's cores, times at batch 64:

1. a large MatMul (2048^3): the throughput onnxruntime's own GEMM reaches here,
   taken as the attainable peak;
2. that Conv as in the model (7x7 input, pads 2) and the same weights on an
   11x11 input without padding, which has the same output size and only real
   taps: equal times mean onnxruntime computes the zero-padding taps in full
   (40 M multiply-adds per image where 27.5 M are useful);
3. exact decompositions that skip the padding: row bands and row x column
   blocks, each a Conv over a slice of the input with the kernel cropped to the
   taps its outputs can use, joined by Concat (checked equal to the plain Conv).
   With 5 bands per axis no padded tap is left; 3 bands leave a few.

Every figure is a median over interleaved rounds. Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

N, K, P = 7, 5, 2  # map size, kernel size, pads of the layer measured
FIVE_BANDS = [(0, 0), (1, 1), (2, 4), (5, 5), (6, 6)]  # rows with the same valid kernel rows
THREE_BANDS = [(0, 1), (2, 4), (5, 6)]
WHOLE = [(0, N - 1)]


def parse_args():
    from gantool.runtime.classifier import asset_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(asset_path("default.onnx")))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    return parser.parse_args()


def session(model: onnx.ModelProto, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def graph_model(nodes, inputs, initializers, out_shape) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def axis_plan(first: int, last: int):
    """Kernel taps, input range and pads that outputs ``first..last`` of one axis need (no padded tap
    unless the band's rows disagree)."""
    k0, k1 = max(0, P - last), min(K - 1, N - 1 + P - first)
    i0, i1 = first + k0 - P, last + k1 - P
    return k0, k1, max(0, i0), min(N - 1, i1), max(0, -i0), max(0, i1 - (N - 1))


def blocks_model(weight, bias, row_bands, col_bands) -> onnx.ModelProto:
    nodes, inits = [], [numpy_helper.from_array(bias, "b")]

    def const(name, values):
        inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    rows = []
    for bi, (r0, r1) in enumerate(row_bands):
        kr0, kr1, ir0, ir1, top, bottom = axis_plan(r0, r1)
        cols = []
        for bj, (c0, c1) in enumerate(col_bands):
            kc0, kc1, ic0, ic1, left, right = axis_plan(c0, c1)
            tag = f"{bi}_{bj}"
            nodes.append(helper.make_node("Slice", ["x", const(f"s{tag}", [ir0, ic0]), const(f"e{tag}", [ir1 + 1, ic1 + 1]),
                                                    const(f"a{tag}", [2, 3])], [f"x{tag}"]))
            inits.append(numpy_helper.from_array(np.ascontiguousarray(weight[:, :, kr0:kr1 + 1, kc0:kc1 + 1]), f"w{tag}"))
            nodes.append(helper.make_node("Conv", [f"x{tag}", f"w{tag}", "b"], [f"y{tag}"], pads=[top, left, bottom, right],
                                          kernel_shape=[kr1 - kr0 + 1, kc1 - kc0 + 1]))
            cols.append(f"y{tag}")
        rows.append(cols[0] if len(cols) == 1 else f"row{bi}")
        if len(cols) > 1:
            nodes.append(helper.make_node("Concat", cols, [rows[-1]], axis=3))
    nodes.append(helper.make_node("Concat", rows, ["y"], axis=2) if len(rows) > 1 else helper.make_node("Identity", rows, ["y"]))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", weight.shape[1], N, N])]
    return graph_model(nodes, inputs, inits, ["n", weight.shape[0], N, N])


def unpadded_model(weight, bias) -> onnx.ModelProto:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[K, K])
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", weight.shape[1], N + 2 * P, N + 2 * P])]
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    return graph_model([node], inputs, inits, ["n", weight.shape[0], N, N])


def matmul_model(size: int) -> onnx.ModelProto:
    weight = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])]
    return graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], inputs,
                       [numpy_helper.from_array(weight, "w")], [size, size])


def big_conv(path: str):
    """Weight and bias of the first 5x5, pads-2 Conv in the model (the layer this script is about)."""
    model = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        attrs = {a.name: list(a.ints) for a in node.attribute}
        if node.op_type == "Conv" and attrs.get("kernel_shape") == [K, K] and attrs.get("pads") == [P] * 4:
            return inits[node.input[1]], inits[node.input[2]]
    # The default export computes that layer through a DFT (export/fourier_conv.py) but keeps its taps
    # as [k*k, in*out] (from weight[out, in, kh, kw]) and its bias.
    from gantool.export.fourier_conv import NODE_MARK

    taps = [name for name in inits if name.endswith(f"{NODE_MARK}taps")]
    if taps:
        prefix = taps[0][: -len("taps")]
        bias = inits[prefix + "bias"]
        weight = inits[taps[0]].reshape(K, K, -1, len(bias)).transpose(3, 2, 0, 1)
        return np.ascontiguousarray(weight), bias
    raise SystemExit(f"{path} has no {K}x{K} Conv with pads {P} (an optimized gantool DCGAN export is expected)")


def main() -> None:
    args = parse_args()
    weight, bias = big_conv(args.model)
    rng = np.random.default_rng(1)
    size = 2048
    cases = {
        "MatMul 2048^3 (peak)": (matmul_model(size), rng.standard_normal((size, size)).astype(np.float32), 2 * size**3),
    }
    x = rng.standard_normal((args.batch, weight.shape[1], N, N)).astype(np.float32)
    macs_all = args.batch * N * N * weight.shape[0] * weight.shape[1] * K * K
    padded = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    cases["Conv as in the model (pads 2)"] = (blocks_model(weight, bias, WHOLE, WHOLE), x, 2 * macs_all)
    cases["same Conv, 11x11 unpadded input"] = (unpadded_model(weight, bias), padded, 2 * macs_all)
    for name, (rows, cols) in {"5 row bands (no padded rows)": (FIVE_BANDS, WHOLE),
                               "3 row bands (fewer padded rows)": (THREE_BANDS, WHOLE),
                               "3x3 blocks (fewer padded taps)": (THREE_BANDS, THREE_BANDS),
                               "5x5 blocks (no padded taps)": (FIVE_BANDS, FIVE_BANDS)}.items():
        cases[name] = (blocks_model(weight, bias, rows, cols), x, 2 * macs_all)
    sessions = {name: (session(model, args.threads), feed) for name, (model, feed, _) in cases.items()}
    reference = sessions["Conv as in the model (pads 2)"][0].run(None, {"x": x})[0]
    for name, (sess, feed) in sessions.items():
        out = sess.run(None, {"x": feed})[0]
        if name != "MatMul 2048^3 (peak)" and not np.allclose(out, reference, atol=1e-4):
            raise SystemExit(f"{name} differs from the plain Conv: max |Δ| {np.abs(out - reference).max():.2e}")
    times = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, (sess, feed) in sessions.items():
            start = time.perf_counter()
            sess.run(None, {"x": feed})
            times[name].append(time.perf_counter() - start)
    peak = cases["MatMul 2048^3 (peak)"][2] / np.median(times["MatMul 2048^3 (peak)"]) / 1e9
    useful = 2 * args.batch * weight.shape[0] * weight.shape[1] * sum(
        (axis_plan(i, i)[1] - axis_plan(i, i)[0] + 1) for i in range(N)) ** 2 / 1e9
    print(f"onnxruntime {ort.__version__}, {args.threads} threads, batch {args.batch}, {args.rounds} interleaved rounds; "
          f"layer: {weight.shape[1]}->{weight.shape[0]} channels, {K}x{K} on {N}x{N}")
    print(f"{'case':40s} {'median':>9s} {'GFLOP/s*':>9s} {'% peak':>7s} {'useful GFLOP/s':>15s}")
    for name, (_, _, flops) in cases.items():
        median = float(np.median(times[name]))
        rate = flops / median / 1e9
        line = f"{name:40s} {median * 1e3:7.2f}ms {rate:9.0f} {rate / peak * 100:6.0f}%"
        if name != "MatMul 2048^3 (peak)":
            line += f" {useful / median:15.0f}"
        print(line)
    print("* counting all 25 taps of every output (the padded ones included); 'useful' counts only taps on the map "
          f"({useful / (2 * macs_all / 1e9) * 100:.1f}% of them)")


if __name__ == "__main__":
    main()
