"""TensorFlow vs every registry format (ONNX plain/optimized/int8, TFLite fp32/fp16/int8/dynamic), side by side.

The registry (:data:`gantool.export.registry.REGISTRY`) names the formats;
each is exported and validated by its own converter, then run through the
runtime (:class:`gantool.runtime.Generator`), as ``gantool sample`` does. All
candidates are timed interleaved, round by round (the timing loop of
``harness.py``), so load on the machine hits them alike, each in a process
of its own (``isolated.py``; ``--one-process`` for all in this one); the
script prints ratios of medians. Not a test: it only measures.

    python benchmarks/all_formats.py                          # randomly initialised generator
    python benchmarks/all_formats.py /work/runs/s0            # a run folder or a .keras file
    python benchmarks/all_formats.py --formats onnx/none,tflite/int8 --rounds 7
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

# harness.py sits beside this file: the options, thread pinning, generator loading, candidates and timing loop.
from harness import add_timing_args, load_generator, run_candidates, save_source, set_tf_threads, start_candidate

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REFERENCE = "onnx/none"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_args(parser)
    parser.add_argument("--formats", default="all", help="all, or registry pairs such as onnx/none,tflite/int8")
    return parser.parse_args()


def candidates(keras_model, contract, entries, threads: int, folder: Path, one_process: bool) -> dict:
    """name -> candidate: tf.function, the plain ONNX graph, and every registry entry through the runtime."""
    import onnx

    from gantool.export.all_formats import ExportStatus, export_all
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.registry import ExportOptions

    source = save_source(keras_model, folder)
    paths = {}
    for name, graph, stem in (("onnx plain graph", "plain", "plain"), ("onnx/none --graph optimized", "optimized", "no_fourier")):
        paths[name] = folder / f"{stem}.onnx"
        onnx.save(to_onnx_proto(keras_model, contract, graph=graph), paths[name])
    for outcome in export_all(keras_model, contract, folder, ExportOptions(), entries, log=print):
        if outcome.status is not ExportStatus.passed:
            print(f"skipping {outcome.entry.key}: {outcome.status.value}: {outcome.message}")
            continue
        paths[outcome.entry.key] = outcome.path
    chosen = {"tf.function": start_candidate("tf.function", "tf", source, threads, one_process, keras_model=keras_model)}
    for name, path in paths.items():
        chosen[name] = start_candidate(name, "runtime", path, threads, one_process)
        if name == REFERENCE:
            chosen[f"{REFERENCE} no-spin"] = start_candidate(f"{REFERENCE} no-spin", "runtime", path, threads,
                                                             one_process, spin_wait=False)
    return chosen


def print_results(results: dict, errors: dict, header: str) -> None:
    print(header)
    print(f"{'engine':<22}{'batch-1 p50 ms':>16}{'batch-64 img/s':>16}{'CPU ms/batch-64':>17}{'max |Δ| vs Keras':>18}")
    for name, figures in results.items():
        print(f"{name:<22}{figures['p50_ms']:>16.3f}{figures['img_s']:>16.0f}{figures['cpu_ms']:>17.1f}{errors[name]:>18.2e}")
    print(f"\n{'ratios':<22}{'b1 vs TF':>10}{'b64 vs TF':>11}{'b64 vs ' + REFERENCE:>18}{'img/CPU-s vs TF':>17}")
    tf_figures, reference = results["tf.function"], results.get(REFERENCE)
    for name, figures in results.items():
        vs_reference = f"{figures['img_s'] / reference['img_s']:.2f}x" if reference else "-"
        print(f"{name:<22}{tf_figures['p50_ms'] / figures['p50_ms']:>9.2f}x{figures['img_s'] / tf_figures['img_s']:>10.2f}x"
              f"{vs_reference:>18}{tf_figures['cpu_ms'] / figures['cpu_ms']:>16.2f}x")


def main() -> None:
    args = parse_args()
    set_tf_threads(args.threads)
    from gantool.bench.benchmark import parse_formats

    entries = parse_formats(args.formats)
    keras_model, contract = load_generator(args.model)
    with tempfile.TemporaryDirectory() as folder:
        chosen = candidates(keras_model, contract, entries, args.threads, Path(folder), args.one_process)
        results, errors = run_candidates(chosen, keras_model, contract, args, Path(folder))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_results(results, errors, f"\nmodel: {args.model or 'random generator'}; threads: {args.threads} "
                  f"(cpu_count {os.cpu_count()}); rounds: {args.rounds}; "
                  f"{'one process' if args.one_process else 'a process per engine'}; load average at the end: {load}")


if __name__ == "__main__":
    main()
