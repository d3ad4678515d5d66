"""One generator's rewritten graphs with and without the narrow-Conv rewrite, timed alone.

Usage (with the train extra installed):
    python research/narrow_ab.py tests/golden/generator.keras

Builds the chained graph (``optimized``) with and without its DFT first layer, each with and without
``narrow`` (gantool.export.narrow_conv), and times the four in one process, one thread each, in CPU
time, 12 rounds in a shuffled order with a 50 ms pause before each, the fastest round counting.
Unlike benchmarks/graph_rules.py no other engine runs between them, so the DFT layer's spectrum stays
in the caches. Not a test: it only measures.
"""

from __future__ import annotations

import os
import random
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def fastest_cpu_ms(sessions: dict, feeds: dict, rounds: int, repeats: dict, pause_s: float) -> dict:
    """(name, batch) -> the fastest round's CPU ms per run: rounds in a shuffled (seeded) order, a pause before
    each session's calls at each batch size, ``repeats[batch]`` runs per measurement."""
    best = {(name, b): float("inf") for name in sessions for b in feeds}
    for round_ in range(rounds):
        for name in random.Random(round_).sample(list(sessions), len(sessions)):
            for b, feed in feeds.items():
                time.sleep(pause_s)
                start = time.process_time()
                for _ in range(repeats[b]):
                    sessions[name].run(None, feed)
                best[name, b] = min(best[name, b], (time.process_time() - start) / repeats[b] * 1e3)
    return best


def main() -> None:
    import onnxruntime as ort

    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.onnx_optimize import optimize
    from gantool.export.source import load_source

    model, contract, _ = load_source(sys.argv[1])
    plain = to_onnx_proto(model, contract)
    graphs = {f"{'fourier' if fourier else 'direct'}, narrow={narrow}":
              optimize(plain, fourier=fourier, chain=True, narrow=narrow).SerializeToString()
              for fourier in (True, False) for narrow in (True, False)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = {name: ort.InferenceSession(g, options, providers=["CPUExecutionProvider"]) for name, g in graphs.items()}
    rng = np.random.default_rng(0)
    feeds = {b: {contract.input_name: rng.standard_normal((b, contract.latent_dim), dtype=np.float32)} for b in (1, 64)}
    best = fastest_cpu_ms(sessions, feeds, rounds=12, repeats={1: 100, 64: 4}, pause_s=0.05)
    for name in sessions:
        print(f"{name:24s} batch 1 {best[name, 1]:.3f} ms   batch 64 {best[name, 64]:.2f} ms")


if __name__ == "__main__":
    main()
