"""What the side-by-side benchmarks share: options, the generator to time, candidates and the timing loop.

``tf_vs_onnx.py`` and ``all_formats.py`` import this module from beside them (run each
as ``python benchmarks/NAME.py``). Every candidate is timed interleaved, round by
round, so that load on the machine hits them alike; each runs in a child process of
its own (``isolated.py``) unless ``--one-process`` is given.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import numpy as np


def add_timing_args(parser: argparse.ArgumentParser) -> None:
    """The options every side-by-side benchmark takes: the model, threads, rounds, calls, processes."""
    parser.add_argument("model", nargs="?", help="gantool run folder or .keras file (default: random generator)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads for every engine")
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds; medians are taken over rounds")
    parser.add_argument("--latency-calls", type=int, default=40, help="batch-1 calls per candidate per round")
    parser.add_argument("--throughput-calls", type=int, default=4, help="batch-64 calls per candidate per round")
    parser.add_argument("--settle", type=float, default=0.06,
                        help="seconds to sleep before each candidate's calls (the last one's workers spin)")
    parser.add_argument("--one-process", action="store_true",
                        help="time every engine in this process (default: each in a child process of its own)")


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


def measure(chosen: dict, args) -> dict[str, dict[str, float]]:
    """Interleaved rounds; batch-1 p50 latency (ms), batch-64 throughput (img/s) and CPU time per candidate.

    Each round takes the candidates in a new (seeded) random order and sleeps
    ``--settle`` seconds before each one's calls: onnxruntime's workers keep
    spinning for a while after a run, so in a fixed order a candidate that
    follows a spinning one (or a non-spinning one) was slowed (or spared).
    With the DCGAN on a 2-core Zen 5 the fixed order without a settle put the
    default graph at 1.56x TensorFlow at batch 64; docs/export_graphs.md has
    the figures with them.

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
    shuffle = random.Random(0)
    for _ in range(args.rounds):
        for name in shuffle.sample(list(chosen), len(chosen)):
            candidate = chosen[name]
            time.sleep(args.settle)
            latency[name].extend(candidate.time_calls(1, args.latency_calls, 1)[0])
            time.sleep(args.settle)
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
