"""TensorFlow vs onnxruntime (plain and optimized graph), side by side on the same weights.

Absolute figures drift with whatever else the machine runs, so all candidates
are timed in one process, interleaved round by round, and the script prints
ratios of medians. Not a test: it only measures.

    python benchmarks/tf_vs_onnx.py                      # randomly initialised generator
    python benchmarks/tf_vs_onnx.py /work/runs/s0        # a run folder or a .keras file
    python benchmarks/tf_vs_onnx.py --threads 2 --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
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


def candidates(keras_model, contract, threads: int, folder: Path):
    """name -> callable(z) for TF tf.function and onnxruntime on the plain and optimized graphs."""
    import onnx
    import tensorflow as tf

    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.runtime.backends.onnx_backend import OnnxBackend

    signature = [tf.TensorSpec((None, contract.latent_dim), tf.float32)]
    tf_generate = tf.function(lambda z: keras_model(z, training=False), input_signature=signature)
    runners = {"tf.function": lambda z: tf_generate(z).numpy()}
    for name, optimized in (("onnx plain", False), ("onnx optimized", True)):
        path = folder / f"{name.split()[1]}.onnx"
        onnx.save(to_onnx_proto(keras_model, contract, optimize=optimized), path)
        runners[name] = OnnxBackend(path, threads=threads).run
    runners["onnx opt no-spin"] = no_spin_runner(folder / "optimized.onnx", threads)
    return runners


def no_spin_runner(path: Path, threads: int):
    """The optimized graph with onnxruntime's spin-waiting threads turned off.

    Spinning helps on an idle machine; on a busy one a spinning worker steals
    the core its partner needs, so this row shows what the setting is worth here.
    """
    import onnxruntime as ort

    from gantool.runtime.backends.onnx_backend import session_options

    options = session_options(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    return lambda z: session.run(["image"], {"z": z})[0]


def time_calls(run, z, calls: int) -> list[float]:
    """Seconds per call of ``run(z)``: the runtime benchmark's own timing loop, without warm-up."""
    from gantool.runtime.bench_worker import time_calls as timed

    return timed(run, z, warmup=0, repeats=calls)


def measure(runners, latent_dim: int, args) -> dict[str, dict[str, float]]:
    """Interleaved rounds; batch-1 p50 latency (ms), batch-64 throughput (img/s) and CPU time per runner.

    CPU time (all threads of this process) per batch of 64 is the figure that
    survives a busy machine: when other processes hold the cores, wall-clock
    ratios drift towards the ratio of CPU time per image.
    """
    z1 = np.random.default_rng(1).standard_normal((1, latent_dim), dtype=np.float32)
    z64 = np.random.default_rng(64).standard_normal((64, latent_dim), dtype=np.float32)
    for run in runners.values():  # warm-up: graph tracing, allocator, thread pools
        time_calls(run, z1, 20)
        time_calls(run, z64, 5)
    latency = {name: [] for name in runners}
    throughput = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            latency[name].extend(time_calls(run, z1, args.latency_calls))
            cpu_start = time.process_time()
            throughput[name].append(64 / statistics.median(time_calls(run, z64, args.throughput_calls)))
            cpu[name].append((time.process_time() - cpu_start) / args.throughput_calls)
    return {name: {"p50_ms": 1e3 * statistics.median(latency[name]), "img_s": statistics.median(throughput[name]),
                   "cpu_ms": 1e3 * statistics.median(cpu[name])} for name in runners}


def main() -> None:
    args = parse_args()
    set_tf_threads(args.threads)
    keras_model, contract = load_generator(args.model)
    with tempfile.TemporaryDirectory() as folder:
        runners = candidates(keras_model, contract, args.threads, Path(folder))
        z = np.random.default_rng(7).standard_normal((64, contract.latent_dim), dtype=np.float32)
        reference = np.asarray(keras_model(z, training=False))
        errors = {name: float(np.abs(run(z) - reference).max()) for name, run in runners.items()}
        results = measure(runners, contract.latent_dim, args)
    print(f"model: {args.model or 'random generator'}; threads: {args.threads} (cpu_count {os.cpu_count()}); "
          f"rounds: {args.rounds}")
    print(f"{'engine':<18}{'batch-1 p50 ms':>16}{'batch-64 img/s':>16}{'CPU ms/batch-64':>17}{'max |Δ| vs Keras':>18}")
    for name, figures in results.items():
        print(f"{name:<18}{figures['p50_ms']:>16.3f}{figures['img_s']:>16.0f}{figures['cpu_ms']:>17.1f}{errors[name]:>18.2e}")
    tf_figures = results["tf.function"]
    for name in [n for n in results if n.startswith("onnx")]:
        print(f"{name} / tf.function: batch 1 {tf_figures['p50_ms'] / results[name]['p50_ms']:.2f}x, "
              f"batch 64 {results[name]['img_s'] / tf_figures['img_s']:.2f}x, "
              f"images per CPU-second {tf_figures['cpu_ms'] / results[name]['cpu_ms']:.2f}x")
    gain = results["onnx optimized"]["img_s"] / results["onnx plain"]["img_s"]
    print(f"onnx optimized / onnx plain: batch 64 {gain:.2f}x, "
          f"batch 1 {results['onnx plain']['p50_ms'] / results['onnx optimized']['p50_ms']:.2f}x")


if __name__ == "__main__":
    main()
