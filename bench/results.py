"""What ``gantool bench`` measured: a row per format, the run, its table and its one-line conclusion.

:func:`gantool.bench.benchmark.run_bench` fills these; the command line prints :func:`format_table`
and :func:`fastest_line`, and writes :meth:`BenchResult.to_dict` as JSON.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gantool.bench.options import DEFAULT_WARMUP, BenchOptions
from gantool.errors import GantoolError
from gantool.export.registry import lookup
from gantool.runtime.backends.base import cpu_count


@dataclasses.dataclass
class BenchRow:
    """The figures of one format (see :func:`gantool.bench.benchmark.run_bench`); ``error`` is set when it did not run."""

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
