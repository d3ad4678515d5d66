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
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gantool.errors import GantoolError, ModelFileError, UnsupportedFormatError
from gantool.export.registry import REGISTRY, REPORT_NAME, FormatEntry, entries_for, lookup, supported_pairs
from gantool.judge.evaluate import MAX_COUNT as MAX_QUALITY_COUNT
from gantool.judge.evaluate import MIN_COUNT as MIN_QUALITY_COUNT
from gantool.runtime.backends import check_model_file, file_kind, open_backend
from gantool.runtime.backends.base import cpu_count
from gantool.runtime.generator import resolve_model

DEFAULT_BATCHES = (1, 64)
DEFAULT_REPEATS = 50
DEFAULT_WARMUP = 5
DEFAULT_QUALITY_COUNT = 2000
MAX_BATCH = 4096
# Exit code of ``gantool bench`` when a throughput is under --floor (2 stays "bad input").
EXIT_BELOW_FLOOR = 3
EXPORTS_FOLDER = "exports"


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """How to measure.

    Args:
        batches: batch sizes; latency is reported at the smallest, throughput at every other.
        threads: inference threads (None: every core this process may use).
        repeats: timed calls per batch size (after :data:`DEFAULT_WARMUP` untimed ones).
        quality_count: digits judged for FID and MNIST score; 0 skips quality.
        floor: least acceptable throughput (img/s) at the largest batch, or None.
        spin_wait: let onnxruntime's idle worker threads spin between operators.
    """

    batches: tuple[int, ...] = DEFAULT_BATCHES
    threads: int | None = None
    repeats: int = DEFAULT_REPEATS
    quality_count: int = DEFAULT_QUALITY_COUNT
    floor: float | None = None
    spin_wait: bool = True

    def __post_init__(self) -> None:
        if not self.batches or any(not 1 <= b <= MAX_BATCH for b in self.batches):
            raise GantoolError(f"`batches` must be integers between 1 and {MAX_BATCH}, got {list(self.batches)}")
        object.__setattr__(self, "batches", tuple(sorted(set(self.batches))))
        if self.threads is not None and self.threads < 1:
            raise GantoolError(f"`threads` must be a positive integer, got {self.threads}")
        if self.repeats < 1:
            raise GantoolError(f"`repeats` must be a positive integer, got {self.repeats}")
        if self.quality_count and self.quality_count < MIN_QUALITY_COUNT:
            raise GantoolError(f"`quality_count` must be at least {MIN_QUALITY_COUNT} (the MNIST score uses 10 splits), "
                               f"got {self.quality_count}")
        if self.quality_count > MAX_QUALITY_COUNT:
            raise GantoolError(f"`quality_count` {self.quality_count} is above the limit of {MAX_QUALITY_COUNT} digits "
                               f"judged per format (gantool eval's); use `quality_count` {MAX_QUALITY_COUNT} or fewer")
        if self.floor is not None and not self.floor > 0:
            raise GantoolError(f"`floor` must be a positive number of images per second, got {self.floor}")

    @property
    def resolved_threads(self) -> int:
        return self.threads or cpu_count()


def parse_batches(text: str) -> tuple[int, ...]:
    """``"1,64"`` -> ``(1, 64)``."""
    try:
        batches = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise GantoolError(f"`batches` must be comma-separated integers, e.g. 1,64; got {text!r}") from None
    if any(b < 1 for b in batches):
        raise GantoolError(f"`batches` must be positive integers, got {text!r}")
    return batches


def parse_formats(text: str) -> tuple[FormatEntry, ...]:
    """``all``, a format (``tflite``) or ``format/quantize`` pairs (``onnx/none,tflite/int8``) -> entries.

    Raises:
        UnsupportedFormatError: a pair that is not in the registry.
    """
    if text.strip() == "all":
        return REGISTRY
    chosen: list[FormatEntry] = []
    for part in (p.strip() for p in text.split(",")):
        format_name, _, quantize = part.partition("/")
        if not quantize and entries_for(format_name):
            found = entries_for(format_name)
        else:
            try:
                found = (lookup(format_name, quantize or "none"),)
            except UnsupportedFormatError:
                raise UnsupportedFormatError(
                    f"`formats` {part!r} is not a registry pair; use all, onnx, tflite or any of: {supported_pairs()}"
                ) from None
        chosen.extend(e for e in found if e not in chosen)
    return tuple(e for e in REGISTRY if e in chosen)


@dataclasses.dataclass(frozen=True)
class Target:
    """One file to measure; ``entry`` is None for a single file until its contract is read."""

    path: Path
    entry: FormatEntry | None


@dataclasses.dataclass
class BenchRow:
    """The figures of one format (see :func:`run_bench`); ``error`` is set when it did not run."""

    key: str
    path: Path
    advice: str
    size_bytes: int
    measured: dict[str, Any] = dataclasses.field(default_factory=dict)
    parity: dict[str, Any] | None = None
    error: str = ""

    @property
    def status(self) -> str:
        return "failed" if self.error else "ok"

    def img_s(self, batch: int) -> float | None:
        timing = self.measured.get("timings", {}).get(str(batch))
        return timing["img_s"] if timing else None

    def within_bound(self) -> bool | None:
        """Whether the parity lies inside the registry bound of this format (None: not measured, or no registry pair)."""
        format_name, _, quantize = self.key.partition("/")
        try:
            tolerance = lookup(format_name, quantize).tolerance
        except GantoolError:
            return None
        if self.parity is None:
            return None
        return self.parity["max_abs"] <= tolerance.max_abs and (
            tolerance.mean_abs is None or self.parity["mean_abs"] <= tolerance.mean_abs)

    def to_dict(self) -> dict[str, Any]:
        m = self.measured
        format_name, _, quantize = self.key.partition("/")
        def mb(key):
            return (round(m[key] / 1e6, 1) if key in m else None)
        return {
            "key": self.key, "format": format_name, "quantize": quantize, "file": str(self.path),
            "advice": self.advice, "status": self.status, "error": self.error, "size_bytes": self.size_bytes,
            "engine": m.get("engine"), "load_ms": 1e3 * m["load_s"] if "load_s" in m else None,
            "import_ms": 1e3 * m["import_s"] if "import_s" in m else None,
            "timings": m.get("timings"), "peak_rss_mb": mb("peak_rss_bytes"), "base_rss_mb": mb("base_rss_bytes"),
            "parity": self.parity, "quality": m.get("quality"),
        }


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """All rows of one ``gantool bench`` run and the conditions they were measured under."""

    model: Path
    options: BenchOptions
    rows: list[BenchRow]
    parity_reference: str
    load_average: tuple[float, ...]

    def below_floor(self) -> list[str]:
        """Rows under ``options.floor`` at the largest batch (a failed row counts), as one phrase each."""
        floor, batch = self.options.floor, self.options.batches[-1]
        if floor is None:
            return []
        low = []
        for row in self.rows:
            img_s = row.img_s(batch)
            if img_s is None:
                low.append(f"{row.key} failed")
            elif img_s < floor:
                low.append(f"{row.key} {img_s:.0f} img/s")
        return low

    def fastest(self) -> BenchRow | None:
        """The row of the highest throughput at the largest batch among those that ran inside their
        parity bounds (a row whose parity was not measured counts as inside), or None."""
        batch = self.options.batches[-1]
        passed = [row for row in self.rows if row.img_s(batch) is not None and row.within_bound() is not False]
        return max(passed, key=lambda row: row.img_s(batch), default=None)

    def to_dict(self) -> dict[str, Any]:
        options = self.options
        return {
            "model": str(self.model), "threads": options.resolved_threads, "cpu_count": cpu_count(),
            "machine": platform.machine(), "load_average": list(self.load_average),
            "batches": list(options.batches), "repeats": options.repeats, "warmup": DEFAULT_WARMUP,
            "quality_count": options.quality_count, "spin_wait": options.spin_wait, "floor": options.floor, "below_floor": self.below_floor(),
            "parity_reference": self.parity_reference, "formats": [row.to_dict() for row in self.rows],
            "fastest": (best := self.fastest()) and {"key": best.key, "batch": options.batches[-1],
                                                     "img_s": best.img_s(options.batches[-1])},
        }


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


def _columns(options: BenchOptions) -> list[tuple[str, Callable[[BenchRow], str]]]:
    """Table columns: latency at the smallest batch, throughput at the others (or at the only one)."""
    def timing(batch: int, field: str, fmt: str) -> Callable[[BenchRow], str]:
        return lambda row: fmt.format(row.measured["timings"][str(batch)][field]) if not row.error else "-"

    def quality(field: str, fmt: str) -> Callable[[BenchRow], str]:
        def cell(row: BenchRow) -> str:
            figures = row.measured.get("quality") or {}
            return fmt.format(figures[field]) if field in figures else "-"
        return cell

    smallest = options.batches[0]
    columns = [
        ("format", lambda r: r.key), ("advice", lambda r: r.advice), ("status", lambda r: r.status),
        ("size MB", lambda r: f"{r.size_bytes / 1e6:.2f}"),
        ("load ms", lambda r: f"{1e3 * r.measured['load_s']:.1f}" if not r.error else "-"),
        (f"b{smallest} p50 ms", timing(smallest, "p50_ms", "{:.3f}")),
        (f"b{smallest} p95 ms", timing(smallest, "p95_ms", "{:.3f}")),
    ]
    columns += [(f"b{b} img/s", timing(b, "img_s", "{:.0f}")) for b in options.batches[1:] or options.batches]
    columns += [
        ("peak RSS MB", lambda r: f"{r.measured['peak_rss_bytes'] / 1e6:.0f}" if not r.error else "-"),
        ("max |Δ|", lambda r: f"{r.parity['max_abs']:.2e}" if r.parity else "-"),
        ("FID", quality("fid", "{:.3f}")), ("MNIST score", quality("mnist_score", "{:.3f}")),
    ]
    return columns


def format_table(result: BenchResult) -> str:
    """The run as text: a header naming the conditions, one row per format, then failures and footnotes."""
    options = result.options
    columns = _columns(options)
    rows = [[name for name, _ in columns]] + [[cell(row) for _, cell in columns] for row in result.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    load = " ".join(f"{x:g}" for x in result.load_average) or "unknown"
    spin = "" if options.spin_wait else " (onnxruntime without spin-waiting)"
    lines = [f"gantool bench {result.model}: threads {options.resolved_threads} of {cpu_count()} cores{spin}, "
             f"load average {load}, {options.repeats} timed calls per batch after {DEFAULT_WARMUP} warm-up "
             f"(medians), quality on {options.quality_count or 'no'} digits"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in rows]
    lines += [f"{row.key}: {row.error}" for row in result.rows if row.error]
    lines.append(f"parity: {result.parity_reference}")
    return "\n".join(lines)


def fastest_line(result: BenchResult) -> str:
    """The run's conclusion, one line: the fastest format here that passed its bounds, at the largest batch."""
    batch, best = result.options.batches[-1], result.fastest()
    if best is None:
        return f"No format ran within its bounds here at batch {batch}."
    unchecked = "" if best.within_bound() else ", parity not measured"
    return f"Fastest here at batch {batch}: {best.key} ({best.img_s(batch):.0f} img/s{unchecked})"
