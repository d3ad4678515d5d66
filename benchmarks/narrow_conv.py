"""A stride-1 Conv against its ConvTranspose form in onnxruntime, over the shapes generators end with.

``export/narrow_conv.py`` rewrites a Conv with at most ``NARROW_MAX_CHANNELS`` outputs as the
ConvTranspose computing the same thing (kernel flipped and transposed, pads ``k - 1 - pad``). This
measures, per shape (channels in -> out, kernel, map side), both forms alone in a one-thread session at
batch 1 and 64, in the process's CPU time (what other work on a shared machine adds least to), the
fastest of ``--rounds``; each pair is checked to agree first. Not a test: it only measures.

    python benchmarks/narrow_conv.py
    python benchmarks/narrow_conv.py --rounds 9 --budget 0.5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# channels in, channels out, kernel, map side: generators' last layers (keras-io's MNIST 128 -> 1 7x7,
# CelebA-style 512 -> 3 5x5 at 64x64, WGAN-GP 64 -> 1), sub-pixel phase Convs (4, 12, 16 phases of one or
# three channels) and wider layers on both sides of the threshold.
SHAPES = [(128, 1, 7, 28), (128, 1, 3, 28), (64, 1, 3, 32), (32, 1, 3, 28), (512, 3, 5, 64), (64, 3, 3, 64),
          (128, 3, 3, 32), (64, 4, 3, 28), (128, 8, 3, 28), (64, 12, 3, 32), (128, 16, 3, 28), (256, 16, 3, 7),
          (64, 16, 3, 28), (48, 16, 3, 28), (32, 16, 3, 28), (16, 16, 3, 28), (16, 4, 3, 28), (12, 4, 3, 28),
          (8, 4, 3, 28), (8, 1, 3, 28), (4, 1, 3, 28), (3, 1, 3, 28), (128, 32, 3, 14), (64, 32, 3, 28)]


def model(form: str, weight: np.ndarray, side: int) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    out_channels, in_channels, kernel, _ = weight.shape
    pad = kernel // 2
    if form == "Conv":
        tensor, pads = weight, [pad] * 4
    else:  # the same function as a stride-1 ConvTranspose
        tensor, pads = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]), [kernel - 1 - pad] * 4
    node = helper.make_node(form, ["x", "w"], ["y"], pads=pads, kernel_shape=[kernel, kernel])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", in_channels, side, side])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(tensor, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def fastest_ms(session, x, rounds: int, budget: float) -> float:
    session.run(None, {"x": x})
    start = time.process_time()
    session.run(None, {"x": x})
    repeats = max(1, int(budget / max(time.process_time() - start, 1e-5)))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeats):
            session.run(None, {"x": x})
        best = min(best, (time.process_time() - start) / repeats)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per timed round")
    args = parser.parse_args()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, one thread, CPU time, fastest of {args.rounds} rounds\n")
    print("| in -> out | kernel | map | b1 Conv ms | b1 ConvTranspose ms | b1 speed-up | b64 Conv ms | "
          "b64 ConvTranspose ms | b64 speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for in_channels, out_channels, kernel, side in SHAPES:
        weight = (rng.standard_normal((out_channels, in_channels, kernel, kernel)) * 0.05).astype(np.float32)
        sessions = [ort.InferenceSession(model(form, weight, side), options, providers=["CPUExecutionProvider"])
                    for form in ("Conv", "ConvTranspose")]
        cells = []
        for batch in (1, 64):
            x = rng.standard_normal((batch, in_channels, side, side)).astype(np.float32)
            conv, transposed = (s.run(None, {"x": x})[0] for s in sessions)
            assert conv.shape == transposed.shape and np.allclose(conv, transposed, atol=1e-3), (in_channels, out_channels)
            times = [fastest_ms(s, x, args.rounds, args.budget) for s in sessions]
            cells += [f"{times[0]:.3f}", f"{times[1]:.3f}", f"{times[0] / times[1]:.2f}x"]
        print(f"| {in_channels} -> {out_channels} | {kernel}x{kernel} | {side}x{side} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
