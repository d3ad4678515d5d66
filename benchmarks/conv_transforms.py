"""Fast-convolution transforms for the generator's 5x5 layer on the 7x7 map: Winograd vs DFT vs Conv.

Usage: python benchmarks/conv_transforms.py [MODEL.keras] [--rounds 9] [--threads 2]
(default: tests/golden/generator.keras, the bundled generator's Keras source; needs the train extra)

The optimized graph's first Conv (256 -> 128 channels, pads 2) is three quarters of
its time. This script rewrites that one layer in several exact ways, all as plain
ONNX MatMuls after the Dense layer (which is computed transposed, so the map comes
out as [h, w, c, batch] and no Transpose is needed before the transforms):

- Winograd F(m, 5) in float32, for m = 2, 3, 4: 2-D tiles, transforms folded
  with the zero padding into two matrices per axis; points 0, +-1, +-2, +-1/2.
- Winograd F(7, 5) in float64: one 11x11 tile covers the map (121 points; its
  transforms are too ill-conditioned for float32).
- the DFT form that ``gantool export`` writes by default (export/fourier_conv.py).

For each it prints the max |Δ| against the Keras model computed in float64 (the
export parity reference; bound 1e-5) over the parity latents and 1,024 more,
batch-64 images/s and batch-1 latency (interleaved rounds, one process), and the
peak RSS of a fresh process that loads the file and runs one batch of 64.
Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
POINTS = {2: [0, 1, -1, 2, -2], 3: [0, 1, -1, 2, -2, 0.5], 4: [0, 1, -1, 2, -2, 0.5, -0.5],
          7: [0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 1 / 3]}
PEAK_RSS = """
import sys, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 2
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
s.run(None, {"z": np.zeros((64, 100), np.float32)})
print([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
"""


def winograd(m: int, r: int, points: list[float]):
    """(A^T, G, B^T) of Winograd F(m, r) from ``m + r - 2`` finite points and infinity (float64)."""
    n = m + r - 1
    a = np.asarray(points, dtype=np.float64)
    at, g = np.zeros((m, n)), np.zeros((n, r))
    at[:, : n - 1] = a[None, :] ** np.arange(m)[:, None]
    at[m - 1, n - 1] = 1
    for j in range(n - 1):
        g[j] = a[j] ** np.arange(r) / np.prod([a[j] - a[k] for k in range(n - 1) if k != j])
    g[n - 1, r - 1] = 1
    # B^T is what makes A^T[(G g) * (B^T d)] the correlation of d with g: a linear system per column.
    system = np.einsum("ij,jk->ikj", at, g).reshape(m * r, n)
    bt = np.zeros((n, n))
    for column in range(n):
        target = np.array([[float(column == i + k) for k in range(r)] for i in range(m)]).reshape(-1)
        bt[:, column] = np.linalg.lstsq(system, target, rcond=None)[0]
        if np.abs(system @ bt[:, column] - target).max() > 1e-9:
            raise ValueError(f"no exact Winograd F({m},{r}) from points {points}")
    return at, g, bt


def tiled(m: int, r: int, size: int, pad: int, at, bt):
    """Input transform [(point, tile), size] and output transform [size, (point, tile)] over a whole axis."""
    n, tiles = m + r - 1, -(-size // m)
    forward, inverse = np.zeros((n * tiles, size)), np.zeros((size, n * tiles))
    for p in range(n):
        for t in range(tiles):
            for q in range(n):
                if 0 <= m * t + q - pad < size:
                    forward[p * tiles + t, m * t + q - pad] += bt[p, q]
    for y in range(size):
        t, i = divmod(y, m)
        inverse[y, np.arange(n) * tiles + t] = at[i]
    return forward, inverse, tiles


def with_winograd(proto, m: int, dtype):
    """``proto`` (the optimized graph) with its first Conv as Winograd F(m, 5) MatMuls in ``dtype``."""
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(proto)
    nodes = list(out.graph.node)
    gemm, act, reshape, conv = nodes[:4]
    if [n.op_type for n in nodes[:4]] != ["Gemm", "LeakyRelu", "Reshape", "Conv"]:
        raise SystemExit("expected the optimized DCGAN graph: Gemm, LeakyRelu, Reshape, Conv, ...")
    consts = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    dense_w, dense_b = consts[gemm.input[1]], consts[gemm.input[2]]
    weight, bias = consts[conv.input[1]].astype(np.float64), consts[conv.input[2]]
    out_ch, channels, r, _ = weight.shape
    size = int(round((dense_w.shape[1] / channels) ** 0.5))
    order = np.arange(channels * size * size).reshape(channels, size, size).transpose(1, 2, 0).reshape(-1)
    at, g, bt = winograd(m, r, POINTS[m])
    forward, inverse, tiles = tiled(m, r, size, (r - 1) // 2, at, bt)
    n = m + r - 1
    spectrum = np.einsum("pk,ql,ockl->pqoc", g, g, weight)[:, None, :, None]  # [n, 1, n, 1, out, in]
    f32 = {"wg_dense_w": dense_w[:, order].T, "wg_dense_b": dense_b[order][:, None],
           "wg_bias": bias.reshape(1, 1, out_ch, 1)}
    wide = {"wg_forward": forward, "wg_inverse": inverse, "wg_kernel": spectrum}
    shapes = {"wg_s1": [size, -1], "wg_s2": [n * tiles, size, -1], "wg_s3": [n, tiles, n, tiles, channels, -1],
              "wg_s4": [n * tiles, -1], "wg_s5": [size, n * tiles, -1], "wg_s6": [size, size, out_ch, -1]}
    inits = [numpy_helper.from_array(np.ascontiguousarray(v, np.float32), k) for k, v in f32.items()]
    inits += [numpy_helper.from_array(np.ascontiguousarray(v, dtype), k) for k, v in wide.items()]
    inits += [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in shapes.items()]
    make = helper.make_node
    chain = [
        make("Gemm", ["wg_dense_w", gemm.input[0], "wg_dense_b"], ["wg_d"], transB=1),
        make("LeakyRelu", ["wg_d"], ["wg_x"], alpha=[a.f for a in act.attribute if a.name == "alpha"][0]),
        make("Cast", ["wg_x"], ["wg_xc"], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype))),
        make("Reshape", ["wg_xc", "wg_s1"], ["wg_1"]), make("MatMul", ["wg_forward", "wg_1"], ["wg_2"]),
        make("Reshape", ["wg_2", "wg_s2"], ["wg_3"]), make("MatMul", ["wg_forward", "wg_3"], ["wg_4"]),
        make("Reshape", ["wg_4", "wg_s3"], ["wg_5"]), make("MatMul", ["wg_kernel", "wg_5"], ["wg_6"]),
        make("Reshape", ["wg_6", "wg_s4"], ["wg_7"]), make("MatMul", ["wg_inverse", "wg_7"], ["wg_8"]),
        make("Reshape", ["wg_8", "wg_s5"], ["wg_9"]), make("MatMul", ["wg_inverse", "wg_9"], ["wg_10"]),
        make("Reshape", ["wg_10", "wg_s6"], ["wg_11"]), make("Cast", ["wg_11"], ["wg_12"], to=1),
        make("Add", ["wg_12", "wg_bias"], ["wg_13"]),
        make("Transpose", ["wg_13"], [conv.output[0]], perm=[3, 2, 0, 1]),
    ]
    del out.graph.node[:]
    out.graph.node.extend(chain + nodes[4:])
    dropped = {gemm.input[1], gemm.input[2], reshape.input[1], conv.input[1], conv.input[2]}
    kept = [i for i in out.graph.initializer if i.name not in dropped]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept + inits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(ROOT / "tests" / "golden" / "generator.keras"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import keras
    import onnx
    import onnxruntime as ort

    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.source import load_source
    from gantool.export.validate import exact_model, parity_latents

    keras_model, contract, _ = load_source(args.model)
    if not isinstance(keras_model, keras.Model):
        raise SystemExit(f"{args.model} did not load as a Keras model")
    base = to_onnx_proto(keras_model, contract, graph="optimized")
    variants = {"Conv (--no-fourier)": base}
    variants.update({f"Winograd F({m},5) float32": with_winograd(base, m, np.float32) for m in (2, 3, 4)})
    variants["Winograd F(7,5) float64"] = with_winograd(base, 7, np.float64)
    variants["DFT (default graph)"] = to_onnx_proto(keras_model, contract, graph="optimized+fourier")
    exact = exact_model(keras_model)
    zs = list(parity_latents(contract.latent_dim))
    zs += [np.random.default_rng(seed).standard_normal((256, contract.latent_dim), dtype=np.float32) for seed in range(4)]
    references = [np.asarray(exact(z, training=False), dtype=np.float64) for z in zs]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions, errors, rss = {}, {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, proto) in enumerate(variants.items()):
            path = Path(folder) / f"v{index}.onnx"
            onnx.save(proto, path)
            sessions[name] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            errors[name] = max(float(np.abs(sessions[name].run(None, {"z": z})[0] - ref).max())
                               for z, ref in zip(zs, references, strict=False))
            done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True, check=True)
            rss[name] = int(done.stdout.split()[-1]) / 1024
    z1, z64 = (np.random.default_rng(b).standard_normal((b, contract.latent_dim), dtype=np.float32) for b in (1, 64))
    latency, throughput = {n: [] for n in sessions}, {n: [] for n in sessions}
    for _ in range(args.rounds):
        for name, session in sessions.items():
            for z, store, calls in ((z1, latency[name], 20), (z64, throughput[name], 4)):
                for _ in range(calls):
                    start = time.perf_counter()
                    session.run(None, {"z": z})
                    store.append(time.perf_counter() - start)
    print(f"{args.model}; threads {args.threads}; {args.rounds} interleaved rounds; bound max |Δ| <= 1e-5")
    print(f"{'first layer as':<26}{'max |Δ| vs float64':>20}{'batch-1 ms':>12}{'batch-64 img/s':>16}{'peak RSS MB':>13}")
    for name in sessions:
        print(f"{name:<26}{errors[name]:>20.2e}{1e3 * statistics.median(latency[name]):>12.3f}"
              f"{64 / statistics.median(throughput[name]):>16.0f}{rss[name]:>13.1f}")


if __name__ == "__main__":
    main()
