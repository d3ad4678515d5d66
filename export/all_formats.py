"""Export one registry entry, or all of them into one folder with a report.

:func:`export_model` writes one format (``gantool export``); :func:`export_folder`
writes every supported format x quantization pair
(:data:`gantool.export.registry.REGISTRY`) next to each other, then a
``report.json`` and a terminal table: file size, parity against the Keras
model (max and mean |Δ|, PSNR), status, and the command that samples it.
One failing entry does not stop the others; its row says why it failed.

Example:
    >>> entry, result, contract = export_model("runs/dcgan", "g.onnx")
    >>> print("\n".join(describe_export(entry, result, ExportOptions(), contract)))
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path

from gantool.errors import ExportValidationError, GantoolError, first_line
from gantool.export.registry import REGISTRY, REPORT_NAME, ExportFormat, ExportOptions, FormatEntry, Status, lookup
from gantool.export.validate import PARITY_BATCHES, PARITY_SEED, ExportResult, Parity, ParityError
from gantool.judge.evaluate import MIN_COUNT as MIN_EVAL_COUNT
from gantool.runtime.contract import ModelContract
from gantool.runtime.files import check_output_folder, check_output_path, write_bytes_atomic


class ExportStatus(str, enum.Enum):
    """How one entry of :func:`export_all` ended."""

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
        quality: classifier figures of the written file, when it was judged.
        result: what the converter learned, when the export passed.
    """

    entry: FormatEntry
    path: Path
    status: ExportStatus
    parity: Parity | None = None
    size_bytes: int | None = None
    message: str = ""
    quality: dict | None = None
    result: ExportResult | None = None

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
            "graph": self.result.graph if self.result else None,
            "graph_choice": self.result.graph_choice if self.result else None,
            "onnxruntime": self.result.session if self.result else None,
            "float_ops": list(self.result.float_ops) if self.result else None,
            "sample_command": self.sample_command,
        }


def export_one(keras_model, contract: ModelContract, entry: FormatEntry, out: Path,
               options: ExportOptions) -> ExportResult:
    """Run ``entry``'s converter: write ``out``, check it against Keras and say what it learned (see the registry)."""
    return entry.load_converter()(keras_model, contract, out, entry, options)


def export_model(model: str | Path, out: str | Path, format: str | ExportFormat = "onnx", quantize: str = "none",
                 value_range: tuple[float, float] | None = None,
                 options: ExportOptions | None = None) -> tuple[FormatEntry, ExportResult, ModelContract]:
    """Export the Keras generator at ``model`` (a run folder or a ``.keras`` file) to ``out`` in one format.

    Returns:
        The registry entry, what its converter learned (parity, graph kind, what stayed float) and the contract.

    Raises:
        UnsupportedFormatError: ``format`` x ``quantize`` is not in the registry.
        GantoolError: ``out`` has the wrong suffix or cannot be written; the model cannot be loaded.
        MissingExtraError: a TFLite export without ai-edge-litert, which validates it.
        ExportValidationError: the file breached its bound; nothing was written.
    """
    entry = lookup(format, quantize)
    out = Path(out)
    if out.suffix.lower() != entry.suffix:
        raise GantoolError(f"`out` must end with {entry.suffix} for `format` {entry.format.value} "
                           f"(the runtime picks its backend from the suffix), got {out}")
    check_output_path(out)
    if entry.format is ExportFormat.tflite:
        from gantool.runtime.backends.tflite_backend import require_litert

        require_litert()  # before the conversion, which would fail at its very end without it
    from gantool.export.source import load_source

    keras_model, contract, _ = load_source(model, value_range)
    return entry, export_one(keras_model, contract, entry, out, options or ExportOptions()), contract


def describe_export(entry: FormatEntry, result: ExportResult, options: ExportOptions,
                    contract: ModelContract | None = None) -> list[str]:
    """What :func:`export_model` wrote, as lines for a person: file, graph, calibration, parity, value range, advice."""
    details = [f"opset {options.opset}"] if entry.format is ExportFormat.onnx else []
    if result.graph:
        details.append(f"{result.graph} graph")
    if result.calibration_size:
        details.append(f"calibrated on {result.calibration_size} latents")
    if result.float_ops:
        details.append(f"{', '.join(result.float_ops)} left in float")
    parity = result.parity
    lines = [f"Wrote {result.path} ({result.size_bytes / 1e6:.2f} MB), {', '.join([entry.key, *details])}",
             f"Parity vs Keras (float64 reference, batch {' and '.join(map(str, PARITY_BATCHES))}): "
             f"max |Δ| {parity.max_abs:.2e}, mean |Δ| {parity.mean_abs:.2e}, "
             f"PSNR {parity.psnr_db:.1f} dB (bound {entry.tolerance.describe()})"]
    if contract is not None:
        low, high = contract.value_range
        lines.append(f"Output: (batch, {', '.join(map(str, contract.output_shape))}) in [{low:g}, {high:g}]"
                     + (f", {contract.num_classes} classes on input {contract.label_name}" if contract.conditional else ""))
    if result.graph_choice:
        from gantool.runtime.describe import describe_choice

        lines += ["Graph: " + line if i == 0 else line for i, line in enumerate(describe_choice(result.graph_choice))]
    if result.session:
        lines.append(f"onnxruntime: {', '.join(result.session['disabled_optimizers'])} off when the runtime opens "
                     f"the file (rule {result.session['rule']}: {result.session['reason']})")
    if entry.status is Status.not_recommended:
        lines.append(f"Note: {entry.key} is not recommended: {entry.note}")
    return lines


def export_folder(model: str | Path, out: str | Path, value_range: tuple[float, float] | None = None,
                  options: ExportOptions | None = None, eval_count: int = 0,
                  entries: Iterable[FormatEntry] = REGISTRY,
                  log: Callable[[str], None] | None = None) -> tuple[list[ExportOutcome], Path]:
    """Export ``entries`` of the Keras generator at ``model`` into folder ``out``, with ``report.json``.

    Returns:
        One outcome per entry (see :func:`export_all`) and the report's path.

    Raises:
        GantoolError: ``eval_count`` is out of range, the model cannot be loaded, or ``out`` cannot be made.
    """
    if eval_count and eval_count < MIN_EVAL_COUNT:
        raise GantoolError(f"`eval_count` must be 0 (skip) or at least {MIN_EVAL_COUNT}, got {eval_count}")
    from gantool.export.source import load_source

    options = options or ExportOptions()
    keras_model, contract, source = load_source(model, value_range)
    folder = prepare_folder(Path(out))  # after the model loaded: a bad model leaves no empty folder behind
    outcomes = export_all(keras_model, contract, folder, options, entries, log=log, eval_count=eval_count)
    return outcomes, write_report(folder, outcomes, contract, source, options)


def export_entry(keras_model, contract: ModelContract, entry: FormatEntry, out: Path,
                 options: ExportOptions) -> ExportOutcome:
    """Export one entry and say how it went, never raising for that entry's own failure."""
    try:
        result = export_one(keras_model, contract, entry, out, options)
    except ParityError as exc:
        return ExportOutcome(entry, out, ExportStatus.failed_validation, exc.parity, message=first_line(exc, 300))
    except ExportValidationError as exc:
        return ExportOutcome(entry, out, ExportStatus.failed_validation, message=first_line(exc, 300))
    except Exception as exc:  # one converter's crash must not hide the other formats' results
        return ExportOutcome(entry, out, ExportStatus.export_failed, message=f"{type(exc).__name__}: {first_line(exc, 300)}")
    return ExportOutcome(entry, out, ExportStatus.passed, result.parity, result.size_bytes, result=result)


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
                outcome = dataclasses.replace(outcome, message=f"quality not measured: {first_line(exc, 300)}")
        outcomes.append(outcome)
    return outcomes


def judge(path: Path, count: int) -> dict:
    """Classifier figures of an exported file (see :mod:`gantool.judge.evaluate`)."""
    from gantool.judge.evaluate import evaluate_generator
    from gantool.runtime import Generator

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
        "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "log"},
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
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows]
    lines += [f"{o.entry.key}: {o.message}" for o in outcomes if o.message]
    judged = next((o.quality for o in outcomes if o.quality), None)
    if judged:
        lines.append(f"FID and MNIST score: gantool eval figures at n = {judged['count']}, seed 0 "
                     f"(real-data floor FID {judged['floor_fid']:.3f} at the same n)")
    return "\n".join(line.rstrip() for line in lines)


def prepare_folder(out: Path) -> Path:
    """Create the folder :func:`export_all` fills (and its parents) and return it.

    Raises:
        GantoolError: a file is in the way, or the folder cannot be written.
    """
    check_output_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    return out
