"""TensorFlow vs onnxruntime (plain, optimized --no-fourier and default graphs), side by side on the same weights.

Absolute figures drift with whatever else the machine runs, so all candidates
are timed interleaved, round by round, and the script prints ratios of medians.
Each candidate runs in a process of its own (``isolated.py``: engines in one
process disturb each other); ``--one-process`` times them all in this one.
Not a test: it only measures.

    python benchmarks/tf_vs_onnx.py                      # randomly initialised generator
    python benchmarks/tf_vs_onnx.py /work/runs/s0        # a run folder or a .keras file
    python benchmarks/tf_vs_onnx.py --threads 2 --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="gantool run folder or .keras file (default: random generator)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads for both engines")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds; medians are taken over rounds")
    parser.add_argument("--latency-calls", type=int, default=40, help="batch-1 calls per candidate per round")
    parser.add_argument("--throughput-calls", type=int, default=4, help="batch-64 calls per candidate per round")
    parser.add_argument("--one-process", action="store_true",
                        help="time every engine in this process (default: each in a child process of its own)")
    return parser.parse_args()


def set_tf_threads(threads: int) -> None:
    """Pin TensorFlow's pools; this must happen before TensorFlow creates its context."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def load_generator(model: str | None):
    """(keras_model, contract): the given one, or a fresh generator with non-trivial BatchNorm statistics."""
    if model:
        from gantool.export.source import load_source

        keras_model, contract, _ = load_source(model)
        return keras_model, contract
    import keras

    from gantool.runtime.contract import ModelContract
    from gantool.train.models import build_generator

    keras_model = build_generator(100)
    rng = np.random.default_rng(0)
    # Fresh BatchNorm layers are the identity; random statistics make the fold do real work.
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])
    return keras_model, ModelContract(latent_dim=100, output_shape=(28, 28, 1), arch="dcgan")


def save_source(keras_model, folder: Path) -> Path:
    """The Keras generator as a file, for a child process to load."""
    path = folder / "source.keras"
    keras_model.save(path)
    return path


def start_candidate(name: str, kind: str, model: Path, threads: int, one_process: bool, spin_wait: bool = True,
                    keras_model=None):
    """A candidate in a child process of its own, or in this one with ``one_process``."""
    from isolated import EngineProcess, InProcess, make_engine

    if not one_process:
        return EngineProcess(name, {"kind": kind, "model": str(model), "threads": threads, "spin_wait": spin_wait})
    return InProcess(name, *make_engine(kind, model, threads, spin_wait, keras_model))


def candidates(keras_model, contract, threads: int, folder: Path, one_process: bool) -> dict:
    """name -> candidate: TF tf.function and the runtime on the plain graph, the optimized one with its
    first layer as a direct Conv (--no-fourier) and the default (optimized, first layer through a DFT).

    "onnx opt no-spin" turns onnxruntime's spin-waiting threads off: spinning
    helps on an idle machine, while on a busy one a spinning worker steals the
    core its partner needs, so that row shows what the setting is worth here.
    """
    import onnx

    from gantool.export.keras_to_onnx import to_onnx_proto

    source = save_source(keras_model, folder)
    chosen = {"tf.function": start_candidate("tf.function", "tf", source, threads, one_process, keras_model=keras_model)}
    for name, optimized, fourier, stem in (("onnx plain", False, False, "plain"),
                                           ("onnx no-fourier", True, False, "optimized"),
                                           ("onnx default", True, True, "default")):
        path = folder / f"{stem}.onnx"
        onnx.save(to_onnx_proto(keras_model, contract, optimize=optimized, fourier=fourier), path)
        chosen[name] = start_candidate(name, "runtime", path, threads, one_process)
    chosen["onnx opt no-spin"] = start_candidate("onnx opt no-spin", "runtime", folder / "optimized.onnx", threads,
                                                 one_process, spin_wait=False)
    return chosen


def measure(chosen: dict, args) -> dict[str, dict[str, float]]:
    """Interleaved rounds; batch-1 p50 latency (ms), batch-64 throughput (img/s) and CPU time per candidate.

    CPU time (all threads of the candidate's process) per batch of 64 is the
    figure that survives a busy machine: when other processes hold the cores,
    wall-clock ratios drift towards the ratio of CPU time per image.
    """
    for candidate in chosen.values():  # warm-up: graph tracing, allocator, thread pools
        candidate.time_calls(1, 20, 1)
        candidate.time_calls(64, 5, 64)
    latency = {name: [] for name in chosen}
    throughput = {name: [] for name in chosen}
    cpu = {name: [] for name in chosen}
    for _ in range(args.rounds):
        for name, candidate in chosen.items():
            latency[name].extend(candidate.time_calls(1, args.latency_calls, 1)[0])
            seconds, cpu_s = candidate.time_calls(64, args.throughput_calls, 64)
            throughput[name].append(64 / statistics.median(seconds))
            cpu[name].append(cpu_s / args.throughput_calls)
    return {name: {"p50_ms": 1e3 * statistics.median(latency[name]), "img_s": statistics.median(throughput[name]),
                   "cpu_ms": 1e3 * statistics.median(cpu[name])} for name in chosen}


def run_candidates(chosen: dict, keras_model, contract, args, folder: Path):
    """(figures, max |Δ| vs Keras) of every candidate; the children are closed afterwards."""
    try:
        z = np.random.default_rng(7).standard_normal((64, contract.latent_dim), dtype=np.float32)
        reference = np.asarray(keras_model(z, training=False))
        errors = {name: float(np.abs(c.outputs(z, folder) - reference).max()) for name, c in chosen.items()}
        return measure(chosen, args), errors
    finally:
        for candidate in chosen.values():
            candidate.close()


def main() -> None:
    args = parse_args()
    set_tf_threads(args.threads)
    keras_model, contract = load_generator(args.model)
    with tempfile.TemporaryDirectory() as folder:
        chosen = candidates(keras_model, contract, args.threads, Path(folder), args.one_process)
        results, errors = run_candidates(chosen, keras_model, contract, args, Path(folder))
    where = "one process" if args.one_process else "a process per engine"
    print(f"model: {args.model or 'random generator'}; threads: {args.threads} (cpu_count {os.cpu_count()}); "
          f"rounds: {args.rounds}; {where}")
    print(f"{'engine':<18}{'batch-1 p50 ms':>16}{'batch-64 img/s':>16}{'CPU ms/batch-64':>17}{'max |Δ| vs Keras':>18}")
    for name, figures in results.items():
        print(f"{name:<18}{figures['p50_ms']:>16.3f}{figures['img_s']:>16.0f}{figures['cpu_ms']:>17.1f}{errors[name]:>18.2e}")
    tf_figures = results["tf.function"]
    for name in [n for n in results if n.startswith("onnx")]:
        print(f"{name} / tf.function: batch 1 {tf_figures['p50_ms'] / results[name]['p50_ms']:.2f}x, "
              f"batch 64 {results[name]['img_s'] / tf_figures['img_s']:.2f}x, "
              f"images per CPU-second {tf_figures['cpu_ms'] / results[name]['cpu_ms']:.2f}x")
    for name in ("onnx no-fourier", "onnx default"):
        gain = results[name]["img_s"] / results["onnx plain"]["img_s"]
        print(f"{name} / onnx plain: batch 64 {gain:.2f}x, "
              f"batch 1 {results['onnx plain']['p50_ms'] / results[name]['p50_ms']:.2f}x")


if __name__ == "__main__":
    main()
