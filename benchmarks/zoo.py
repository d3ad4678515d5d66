"""The zoo at full size: what `gantool export` writes for generators shaped like public GAN examples.

For each model of ``gantool.export.zoo`` (random weights, BatchNorm statistics randomized) at its public
widths, and for the bundled model's Keras source: parameters, .keras size; the default ONNX export
(its chosen graph and size) and the ``--graph plain`` export, each in a child process whose peak
memory is measured; then throughput at batch 1 and 64 of the chosen graph, the plain graph and
TensorFlow (a ``tf.function``), timed interleaved round by round in this one process.
Not a test: it only measures. Writes a Markdown table (stdout) and JSON (``--json``).

    python benchmarks/zoo.py                      # every zoo model and the bundled model
    python benchmarks/zoo.py dcgan64 celeba64     # some of them
    python benchmarks/zoo.py --rounds 5 --json zoo.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
BUNDLED_SOURCE = REPO / "tests" / "golden" / "generator.keras"

# Runs one command and prints its peak resident memory (the children's maximum RSS, KiB).
PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="zoo names, or 'bundled' (default: all and bundled)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (medians over rounds)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    return parser.parse_args()


def export(source: Path, out: Path, *flags: str) -> tuple[float, str]:
    """Export in a child process: (peak MB, its output)."""
    command = [sys.executable, "-c", PEAK, sys.executable, "-m", "gantool", "export", "--model", str(source),
               "--out", str(out), "--format", "onnx", *flags]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    code, peak_kib = result.stdout.split()
    if code != "0":
        raise SystemExit(f"export of {source} {' '.join(flags)} failed:\n{result.stderr}")
    print(f"  exported {out.name} {' '.join(flags)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return int(peak_kib) / 1024, result.stderr


def engines(keras_model, chosen: Path, plain: Path, conditional: bool):
    """name -> run(batch of latents): TensorFlow, the chosen ONNX graph, the plain one."""
    import tensorflow as tf

    from gantool.runtime import Generator
    from gantool.runtime.contract import default_labels

    def tf_run(z):
        inputs = [z, tf.constant(default_labels(len(z), 10))] if conditional else z
        return keras_model(inputs, training=False)

    compiled = tf.function(tf_run)
    return {"tf": lambda z: compiled(z).numpy(), "chosen": Generator.load(chosen).generate,
            "plain": Generator.load(plain).generate}


def throughput(runs: dict, latent_dim: int, rounds: int) -> dict:
    """name -> {batch: images per second}, medians over interleaved rounds."""
    z = {b: np.random.default_rng(b).standard_normal((b, latent_dim), dtype=np.float32) for b in (1, 64)}
    repeats = {}
    for name, run in runs.items():
        for batch in (1, 64):
            run(z[batch])  # warm up (tracing, thread pools)
            start = time.perf_counter()
            run(z[batch])
            repeats[name, batch] = max(1, min(200, math.ceil(0.25 / max(time.perf_counter() - start, 1e-6))))
    rates = {key: [] for key in repeats}
    for index in range(rounds):
        for name in (list(runs) if index % 2 == 0 else list(reversed(runs))):
            for batch in (1, 64):
                start = time.perf_counter()
                for _ in range(repeats[name, batch]):
                    runs[name](z[batch])
                rates[name, batch].append(batch * repeats[name, batch] / (time.perf_counter() - start))
    return {name: {batch: statistics.median(rates[name, batch]) for batch in (1, 64)} for name in runs}


def measure(name: str, source: Path, folder: Path, rounds: int) -> dict:
    import keras

    chosen_path, plain_path = folder / f"{name}.onnx", folder / f"{name}_plain.onnx"
    peak_plain, _ = export(source, plain_path, "--graph", "plain")
    peak_chosen, log = export(source, chosen_path)
    from gantool.runtime.describe import graph_choice
    from gantool.runtime.generator import Generator

    generator = Generator.load(chosen_path)
    choice = graph_choice(generator.backend)
    keras_model = keras.saving.load_model(source, compile=False, safe_mode=True)
    rates = throughput(engines(keras_model, chosen_path, plain_path, generator.contract.conditional),
                       generator.contract.latent_dim, rounds)
    return {"model": name, "params": keras_model.count_params(), "keras_mb": source.stat().st_size / 1e6,
            "chosen": choice["chosen"], "chosen_mb": chosen_path.stat().st_size / 1e6,
            "plain_mb": plain_path.stat().st_size / 1e6, "candidates": choice["candidates"],
            "img_s": {k: {str(b): v for b, v in r.items()} for k, r in rates.items()},
            "peak_mb": {"chosen": peak_chosen, "plain": peak_plain}}


def table(rows: list[dict]) -> str:
    lines = ["| model | params | .keras | default ONNX (graph) | plain | b1 img/s chosen / plain / TF | "
             "b64 img/s chosen / plain / TF | chosen vs TF b1 / b64 | export peak chosen / plain |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        rate = r["img_s"]
        b1 = " / ".join(f"{rate[k]['1']:.0f}" for k in ("chosen", "plain", "tf"))
        b64 = " / ".join(f"{rate[k]['64']:.0f}" for k in ("chosen", "plain", "tf"))
        vs_tf = f"{rate['chosen']['1'] / rate['tf']['1']:.2f}x / {rate['chosen']['64'] / rate['tf']['64']:.2f}x"
        peak = r["peak_mb"]
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['keras_mb']:.1f} MB | {r['chosen_mb']:.1f} MB "
                     f"({r['chosen']}) | {r['plain_mb']:.1f} MB | {b1} | {b64} | {vs_tf} | "
                     f"{peak['chosen']:.0f} / {peak['plain']:.0f} MB ({peak['chosen'] / peak['plain']:.2f}x) |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    from gantool.export.zoo import ZOO, save

    names = args.models or [*ZOO, "bundled"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in names:
            print(f"{name}:", file=sys.stderr)
            source = BUNDLED_SOURCE if name == "bundled" else save(ZOO[name](width=1.0, seed=0), folder, name)
            rows.append(measure(name, source, folder, args.rounds))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
