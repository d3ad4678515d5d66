"""Export one registry entry, or all of them into one folder with a report.

``gantool export --format all`` writes every supported format x quantization
pair (:data:`gantool.export.registry.REGISTRY`) next to each other, then a
``report.json`` and a terminal table: file size, parity against the Keras
model (max and mean |Δ|, PSNR), status, and the command that samples it.
One failing entry does not stop the others; its row says why it failed.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path

from gantool.errors import ExportValidationError, GantoolError
from gantool.export.registry import REGISTRY, ExportOptions, FormatEntry
from gantool.export.validate import PARITY_BATCHES, PARITY_SEED, Parity, ParityError
from gantool.runtime.contract import ModelContract
from gantool.runtime.files import write_bytes_atomic

REPORT_NAME = "report.json"


class ExportStatus(str, enum.Enum):
    """How one entry of ``--format all`` ended."""

    passed = "passed"
    failed_validation = "exported but failed validation"
    export_failed = "export failed"


@dataclasses.dataclass(frozen=True)
class ExportOutcome:
    """One row of the export report.

    Args:
        entry: the registry entry.
        path: where the file is (or would have been) written.
        status: passed, exported but failed validation, or export failed.
        parity: errors against Keras, when they were measured.
        size_bytes: the file's size when it was written, else None.
        message: why it failed, else "".
    """

    entry: FormatEntry
    path: Path
    status: ExportStatus
    parity: Parity | None = None
    size_bytes: int | None = None
    message: str = ""
    quality: dict | None = None

    @property
    def sample_command(self) -> str:
        if self.status is not ExportStatus.passed:
            return ""
        grid = self.path.with_name(f"{self.path.stem}_{self.entry.format.value}.png")
        return f"gantool sample --model {shlex.quote(str(self.path))} --out {shlex.quote(str(grid))}"

    def to_dict(self) -> dict:
        entry = self.entry
        return {
            "format": entry.format.value,
            "quantize": entry.quantize.value,
            "file": self.path.name,
            "size_bytes": self.size_bytes,
            # Strict JSON has no Infinity: an identical output (PSNR inf) is written as null.
            "parity": {k: v if math.isfinite(v) else None for k, v in self.parity.to_dict().items()}
            if self.parity else None,
            "bound": dataclasses.asdict(entry.tolerance),
            "status": self.status.value,
            "advice": entry.status.value,
            "note": entry.note,
            "message": self.message,
            "quality": self.quality,
            "sample_command": self.sample_command,
        }


def export_one(keras_model, contract: ModelContract, entry: FormatEntry, out: Path, options: ExportOptions) -> Parity:
    """Run ``entry``'s converter: write ``out`` and check it against Keras (see the registry)."""
    return entry.load_converter()(keras_model, contract, out, entry, options)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def export_entry(keras_model, contract: ModelContract, entry: FormatEntry, out: Path,
                 options: ExportOptions) -> ExportOutcome:
    """Export one entry and say how it went, never raising for that entry's own failure."""
    try:
        parity = export_one(keras_model, contract, entry, out, options)
    except ParityError as exc:
        return ExportOutcome(entry, out, ExportStatus.failed_validation, exc.parity, message=_first_line(exc))
    except ExportValidationError as exc:
        return ExportOutcome(entry, out, ExportStatus.failed_validation, message=_first_line(exc))
    except Exception as exc:  # one converter's crash must not hide the other formats' results
        return ExportOutcome(entry, out, ExportStatus.export_failed, message=f"{type(exc).__name__}: {_first_line(exc)}")
    return ExportOutcome(entry, out, ExportStatus.passed, parity, out.stat().st_size)


def export_all(keras_model, contract: ModelContract, folder: Path, options: ExportOptions,
               entries: Iterable[FormatEntry] = REGISTRY,
               log: Callable[[str], None] | None = None, eval_count: int = 0) -> list[ExportOutcome]:
    """Export every entry into ``folder`` (named ``entry.file_name``); return one outcome each.

    A file left from an earlier run is removed when this run's export of it
    fails, so the folder always matches the report. With ``eval_count`` > 0,
    each passed file is also judged by the shipped classifier (``gantool eval``'s
    figures at n = ``eval_count``, seed 0), so the report shows what a
    quantization costs in digits, not only in tensor error.
    """
    outcomes = []
    for entry in entries:
        if log:
            log(f"exporting {entry.key} -> {folder / entry.file_name}")
        outcome = export_entry(keras_model, contract, entry, folder / entry.file_name, options)
        if outcome.status is not ExportStatus.passed and outcome.path.is_file():
            outcome.path.unlink()
        if outcome.status is ExportStatus.passed and eval_count and contract.is_image and tuple(contract.image_shape) == (28, 28, 1):
            try:
                outcome = dataclasses.replace(outcome, quality=judge(outcome.path, eval_count))
            except GantoolError as exc:  # the export itself passed; say why its quality is missing
                outcome = dataclasses.replace(outcome, message=f"quality not measured: {_first_line(exc)}")
        outcomes.append(outcome)
    return outcomes


def judge(path: Path, count: int) -> dict:
    """Classifier figures of an exported file (see :mod:`gantool.runtime.evaluate`)."""
    from gantool.runtime import Generator
    from gantool.runtime.evaluate import evaluate_generator

    report, _ = evaluate_generator(Generator.load(path), count=count, seed=0)
    return {"count": count, "fid": round(report.model.fid, 4), "mnist_score": round(report.model.mnist_score, 4),
            "class_kl": round(report.model.class_kl, 5), "floor_fid": round(report.floor.fid, 4)}


def write_report(folder: Path, outcomes: list[ExportOutcome], contract: ModelContract, source: Path,
                 options: ExportOptions) -> Path:
    """Write ``report.json`` beside the exported files (atomically) and return its path."""
    report = {
        "source": str(source),
        "contract": contract.to_dict(),
        "parity_latents": {"seed": f"{PARITY_SEED} + batch", "batches": list(PARITY_BATCHES)},
        "options": dataclasses.asdict(options),
        "exports": [outcome.to_dict() for outcome in outcomes],
    }
    path = folder / REPORT_NAME
    write_bytes_atomic(path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    return path


def _size(size_bytes: int | None) -> str:
    return "-" if size_bytes is None else f"{size_bytes / 1e6:.2f} MB"


def format_table(outcomes: list[ExportOutcome]) -> str:
    """The report as aligned text: one row per entry, then why any entry failed."""
    header = ("format", "quantize", "size", "max |Δ|", "mean |Δ|", "PSNR dB", "FID", "score", "status", "sample it with")
    rows = [header]
    for o in outcomes:
        p = o.parity
        status = o.status.value + (" (not recommended)" if o.entry.status.value == "not recommended" else "")
        rows.append((
            o.entry.format.value, o.entry.quantize.value, _size(o.size_bytes),
            f"{p.max_abs:.2e}" if p else "-", f"{p.mean_abs:.2e}" if p else "-",
            f"{p.psnr_db:.1f}" if p else "-",
            f"{o.quality['fid']:.3f}" if o.quality else "-", f"{o.quality['mnist_score']:.3f}" if o.quality else "-",
            status, o.sample_command or "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    lines += [f"{o.entry.key}: {o.message}" for o in outcomes if o.message]
    judged = next((o.quality for o in outcomes if o.quality), None)
    if judged:
        lines.append(f"FID and MNIST score: gantool eval figures at n = {judged['count']}, seed 0 "
                     f"(real-data floor FID {judged['floor_fid']:.3f} at the same n)")
    return "\n".join(line.rstrip() for line in lines)


def prepare_folder(out: Path) -> Path:
    """Create the ``--format all`` output folder (its parent must exist) and return it."""
    from gantool.errors import GantoolError

    if out.exists() and not out.is_dir():
        raise GantoolError(f"--format all writes a folder of models, but {out} is a file; pass a folder, e.g. --out exports")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GantoolError(f"output folder {parent} does not exist; create it first (mkdir -p {parent})")
    out.mkdir(exist_ok=True)
    return out
