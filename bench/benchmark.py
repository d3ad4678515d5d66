"""``gantool bench``: every exported format of a generator, measured the same way, in one table.

For each registry entry (:data:`gantool.export.registry.REGISTRY`) found in a
folder written by ``gantool export --format all`` (or for one given file):
file size, session load time, latency at the smallest batch (p50/p95),
throughput at the others, peak resident memory, parity against a reference
and quality (classifier-FID, MNIST score). Each format is measured in its own
process (:mod:`gantool.bench.worker`), one after the other, so memory
is per format; absolute times drift with the machine's load, so compare rows
of one run, and use ``benchmarks/all_formats.py`` for interleaved ratios.

Runtime only: benchmarking exported files never imports TensorFlow. Only a
run folder with nothing exported yet is exported first, which needs the
``train`` extra.

Example:
    >>> result = run_bench(Path("exports"), BenchOptions(threads=2))
    >>> print(format_table(result))

How to measure (:class:`BenchOptions`, :func:`parse_batches`, :func:`parse_formats`) lives in
:mod:`gantool.bench.options`, what was measured and how it reads (:class:`BenchRow`,
:class:`BenchResult`, :func:`format_table`, :func:`fastest_line`) in :mod:`gantool.bench.results`;
both are importable from here too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gantool.bench.options import (  # noqa: F401  (re-exported: this module's public API)
    DEFAULT_BATCHES,
    DEFAULT_QUALITY_COUNT,
    DEFAULT_REPEATS,
    DEFAULT_WARMUP,
    MAX_BATCH,
    BenchOptions,
    parse_batches,
    parse_formats,
)
from gantool.bench.results import BenchResult, BenchRow, fastest_line, format_table  # noqa: F401  (re-exported)
from gantool.errors import GantoolError, ModelFileError
from gantool.export.registry import REGISTRY, REPORT_NAME, FormatEntry, lookup
from gantool.runtime.backends import check_model_file, file_kind, open_backend
from gantool.runtime.generator import resolve_model

# Exit code of ``gantool bench`` when a throughput is under --floor (2 stays "bad input").
EXIT_BELOW_FLOOR = 3
EXPORTS_FOLDER = "exports"


@dataclasses.dataclass(frozen=True)
class Target:
    """One file to measure; ``entry`` is None for a single file until its contract is read."""

    path: Path
    entry: FormatEntry | None


def _entry_targets(folder: Path, entries: tuple[FormatEntry, ...]) -> list[Target]:
    """Each entry's file in ``folder``, followed by the other graphs of it that ``gantool export --keep-graphs``
    kept (``STEM.KIND.onnx``)."""
    targets = []
    for e in entries:
        path = folder / e.file_name
        if path.is_file():
            targets.append(Target(path, e))
            targets += [Target(p, e) for p in sorted(folder.glob(f"{path.stem}.*{path.suffix}"))]
    return targets


def _export_first(run: Path, entries: tuple[FormatEntry, ...], log: Callable[[str], None]) -> Path:
    """Export ``entries`` of the run's generator.keras into RUN/exports (imports TensorFlow)."""
    from gantool.export.all_formats import export_folder

    folder = run / EXPORTS_FOLDER
    log(f"{run} has no exported models; exporting {', '.join(e.key for e in entries)} into {folder}")
    export_folder(run, folder, entries=entries, log=log)
    return folder


def find_targets(model: Path, entries: tuple[FormatEntry, ...], everything: bool,
                 log: Callable[[str], None]) -> tuple[Path, list[Target]]:
    """The folder holding the files and the files to measure, exporting a bare run folder first.

    Raises:
        ModelFileError: nothing to measure, or a requested format is not in the folder.
    """
    if not model.is_dir():
        check_model_file(model)
        if not everything:
            raise GantoolError("`formats` picks files in a folder; with one model file leave it at 'all'")
        # Open a lone file here first: a broken or foreign model is then one error line, not a
        # progress line followed by the worker's report (the worker's figures are unaffected).
        open_backend(model)
        return model.parent, [Target(model, None)]
    folder = model
    for candidate in (model, model / EXPORTS_FOLDER):
        if _entry_targets(candidate, REGISTRY):
            folder = candidate
            break
    else:
        if not (model / "generator.keras").is_file():
            names = ", ".join(sorted({e.file_name for e in REGISTRY}))
            raise ModelFileError(f"{model} holds no exported generator ({names}) and no generator.keras; "
                                 f"export one with: gantool export --format all --model RUN --out {model}")
        folder = _export_first(model, entries, log)
    targets = _entry_targets(folder, entries)
    missing = [e.key for e in entries if not (folder / e.file_name).is_file()]
    if missing and not everything:
        raise ModelFileError(f"{folder} has no {', '.join(missing)} export; make it with: "
                             f"gantool export --format all --model RUN --out {folder}")
    if not targets:
        raise ModelFileError(f"{folder} has none of the requested formats")
    return folder, targets


def run_worker(target: Path, options: BenchOptions, work: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    """Measure ``target`` in a fresh interpreter; return its figures and its images on the parity latents."""
    from gantool.bench.worker import WorkerSpec

    stem = f"{target.parent.name}_{target.name}"
    spec = WorkerSpec(model=str(target), result=str(work / f"{stem}.json"), outputs=str(work / f"{stem}.npy"),
                      threads=options.resolved_threads, batches=options.batches, repeats=options.repeats,
                      warmup=DEFAULT_WARMUP, quality_count=options.quality_count, spin_wait=options.spin_wait)
    spec_path = spec.save(work / f"{stem}.spec.json")
    done = subprocess.run([sys.executable, "-m", "gantool.bench.worker", str(spec_path)],
                          capture_output=True, text=True)
    result_path = Path(spec.result)
    if not result_path.is_file():
        tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return {"error": f"worker crashed: {tail[:300]}", "user_error": False}, None
    measured = json.loads(result_path.read_text())
    outputs = np.load(spec.outputs, allow_pickle=False) if Path(spec.outputs).is_file() else None
    return measured, outputs


def _report_parity(folder: Path) -> dict[str, dict[str, Any]]:
    """File name -> parity against Keras, from the export report beside the files (if any)."""
    report = folder / REPORT_NAME
    try:
        exports = json.loads(report.read_text())["exports"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {item["file"]: item["parity"] for item in exports if isinstance(item, dict) and item.get("parity")}


def _row_for(target: Target, measured: dict[str, Any]) -> BenchRow:
    """A row for ``target``; a lone file's registry entry comes from its suffix and contract."""
    kind = file_kind(target.path)
    format_name, quantize = kind.format if kind else "?", measured.get("quantization", "?")
    entry = target.entry
    if entry is None:
        try:
            entry = lookup(format_name, quantize)
        except GantoolError:
            entry = None
    key = entry.key if entry else f"{format_name}/{quantize}"
    if target.entry is not None and target.path.name != target.entry.file_name and measured.get("graph"):
        key += f" [{measured['graph']}]"  # another graph of the entry, kept by gantool export --keep-graphs
    return BenchRow(key=key, path=target.path, advice=entry.status.value if entry else "-",
                    size_bytes=target.path.stat().st_size, measured=measured, error=measured.get("error", ""))


def _attach_parity(rows: list[BenchRow], outputs: dict[str, np.ndarray], folder: Path) -> str:
    """Give each row its parity: the export report's (vs Keras), else vs the fp32 ONNX file's images."""
    from_report = _report_parity(folder)
    if from_report and all(row.path.name in from_report for row in rows):
        for row in rows:
            figures = from_report[row.path.name]
            row.parity = {"reference": "keras", "max_abs": figures["max_abs"], "mean_abs": figures["mean_abs"]}
        return f"vs Keras, from {folder / REPORT_NAME} (export parity latents)"
    reference_entry = lookup("onnx", "none")
    reference = outputs.get(reference_entry.file_name)
    if reference is None:
        return "none (no report.json and no fp32 ONNX beside the files)"
    for row in rows:
        images = outputs.get(row.path.name)
        if images is not None and images.shape == reference.shape:
            diff = np.abs(images.astype(np.float64) - reference)
            row.parity = {"reference": reference_entry.key, "max_abs": float(diff.max()), "mean_abs": float(diff.mean())}
    return f"vs the {reference_entry.key} file's images ({reference_entry.file_name}, 64 latents)"


def run_bench(model: Path | str | None, options: BenchOptions, formats: str = "all",
              log: Callable[[str], None] = lambda _: None) -> BenchResult:
    """Measure every requested format found at ``model``: a file, an export folder, a run folder, or a
    bundled name (:func:`gantool.runtime.generator.resolve_model`; None: the bundled model).

    Raises:
        GantoolError: bad input, nothing to measure, or the single given file could not be run.
    """
    entries = parse_formats(formats)
    model = resolve_model(model, folders=True)
    folder, targets = find_targets(model, entries, formats.strip() == "all", log)
    rows: list[BenchRow] = []
    outputs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="gantool-bench-") as work:
        for target in targets:
            log(f"measuring {target.path} ({options.resolved_threads} threads)")
            measured, images = run_worker(target.path, options, Path(work))
            row = _row_for(target, measured)
            if len(targets) == 1 and row.error:
                raise (GantoolError if measured.get("user_error") else RuntimeError)(row.error)
            rows.append(row)
            if images is not None:
                outputs[target.path.name] = images
    reference = _attach_parity(rows, outputs, folder)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return BenchResult(model, options, rows, reference, tuple(round(x, 2) for x in load))
