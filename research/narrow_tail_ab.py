"""The layer-by-layer graph with and without the narrow-tail pass (gantool.export.phase_tail), timed alone.

Usage (with the train extra installed):
    python research/narrow_tail_ab.py                        # the five generators of docs/export_graphs.md
    python research/narrow_tail_ab.py celeba64 tail_k3_c3 --rounds 8

Generators: zoo names at full size (``celeba64``, ``mnist_sigmoid28``, ...) and ``tail_k{K}_c{C}``: a
32x32 generator built here (Dense -> 8x8x256 -> two 4x4 stride-2 Conv2DTranspose, 128 and 64 channels ->
a K x K Conv to C channels), random weights. Each graph is checked against the plain graph, then the
three are timed in one process, one thread each, in CPU time, rounds in a shuffled order with a 60 ms
pause before each, the fastest round counting. Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

# narrow_ab.py sits beside this file (run it as python research/narrow_tail_ab.py): the shared timing loop.
from narrow_ab import fastest_cpu_ms

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DEFAULT = ["celeba64", "mnist_sigmoid28", "tail_k3_c3", "tail_k3_c1", "tail_k5_c3"]


def keras_source(name: str, folder: Path) -> Path:
    """A saved ``.keras`` file of ``name`` (a zoo model or a ``tail_k{K}_c{C}`` generator)."""
    import keras
    from keras import layers

    from gantool.export import zoo

    path = folder / f"{name}.keras"
    if name.startswith("tail_"):
        kernel, channels = (int(part[1:]) for part in name.split("_")[1:])
        model = keras.Sequential([keras.Input((100,)), layers.Dense(8 * 8 * 256), layers.Reshape((8, 8, 256)),
                                  layers.Conv2DTranspose(128, 4, 2, padding="same", activation="relu"),
                                  layers.Conv2DTranspose(64, 4, 2, padding="same", activation="relu"),
                                  layers.Conv2D(channels, kernel, padding="same", activation="tanh")])
        zoo.randomize(model, seed=0)
    else:
        model = getattr(zoo, name)()
    model.save(path)
    return path


def graphs(path: Path) -> dict[str, bytes]:
    """plain, layerwise without the narrow-tail pass, and layerwise (with it), serialized."""
    from gantool.export import onnx_optimize
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.source import load_source

    model, contract, _ = load_source(path)
    plain = to_onnx_proto(model, contract)
    every = onnx_optimize.PASSES
    try:
        onnx_optimize.PASSES = tuple(p for p in every if p.name != "narrow-tail-on-phases")
        without = onnx_optimize.optimize(plain, chain=False)
    finally:
        onnx_optimize.PASSES = every
    return {"plain": plain.SerializeToString(), "layerwise, no tail": without.SerializeToString(),
            "layerwise": onnx_optimize.optimize(plain, chain=False).SerializeToString()}


def feeds(session, batch: int, rng) -> dict:
    """Random inputs for every input of ``session`` at ``batch`` (class inputs drawn as integers)."""
    feed = {}
    for spec in session.get_inputs():
        shape = [batch, *spec.shape[1:]]
        feed[spec.name] = (rng.integers(0, 2, shape).astype(np.int32) if "int" in spec.type
                           else rng.standard_normal(shape).astype(np.float32))
    return feed


def main() -> None:
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    for name in args.models:
        built = graphs(keras_source(name, folder))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        sessions = {k: ort.InferenceSession(g, options, providers=["CPUExecutionProvider"]) for k, g in built.items()}
        rng = np.random.default_rng(0)
        inputs = {b: feeds(sessions["plain"], b, rng) for b in (1, 64)}
        reference = sessions["plain"].run(None, inputs[64])[0]
        errors = {k: float(np.abs(s.run(None, inputs[64])[0] - reference).max()) for k, s in sessions.items()}
        best = fastest_cpu_ms(sessions, inputs, rounds=args.rounds, repeats={1: 20, 64: 2}, pause_s=0.06)
        print(f"## {name}")
        base = "layerwise, no tail"
        for k in sessions:
            print(f"  {k:20s} b1 {best[k, 1]:8.3f} ms  b64 {best[k, 64]:9.2f} ms  max |diff| vs plain {errors[k]:.1e}"
                  f"  speed vs no tail: b1 {best[base, 1] / best[k, 1]:.2f}x, b64 {best[base, 64] / best[k, 64]:.2f}x")


if __name__ == "__main__":
    main()
