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
import tempfile
from pathlib import Path

# harness.py sits beside this file: the options, thread pinning, generator loading, candidates and timing loop.
from harness import add_timing_args, load_generator, run_candidates, save_source, set_tf_threads, start_candidate

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_args(parser)
    return parser.parse_args()


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
    for name, graph, stem in (("onnx plain", "plain", "plain"), ("onnx no-fourier", "optimized", "optimized"),
                              ("onnx default", "optimized+fourier", "default")):
        path = folder / f"{stem}.onnx"
        onnx.save(to_onnx_proto(keras_model, contract, graph=graph), path)
        chosen[name] = start_candidate(name, "runtime", path, threads, one_process)
    chosen["onnx opt no-spin"] = start_candidate("onnx opt no-spin", "runtime", folder / "optimized.onnx", threads,
                                                 one_process, spin_wait=False)
    return chosen


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
