"""Show an evaluation: a terminal table beside the real-data floor, and a contact sheet PNG."""

from __future__ import annotations

import numpy as np

from gantool.judge.evaluate import EvalReport, Evaluation
from gantool.runtime.images import make_grid

# (label, attribute, format); figures where higher is better are marked so the reader needs no paper.
ROWS = (
    ("classifier-FID (lower is better)", "fid", "{:.3f}"),
    ("MNIST score (max 10)", "mnist_score", None),
    ("class KL to uniform (0 = balanced)", "class_kl", "{:.4f}"),
    ("smallest class share (0.100 = even)", "min_class_share", "{:.3f}"),
    ("precision, k=3", "precision", "{:.3f}"),
    ("recall, k=3", "recall", "{:.3f}"),
    ("density, k=5", "density", "{:.3f}"),
    ("coverage, k=5", "coverage", "{:.3f}"),
)
PRDC_KEYS = ("precision", "recall", "density", "coverage")


def _cell(evaluation: Evaluation, attribute: str, fmt: str | None) -> str:
    if attribute == "mnist_score":
        return f"{evaluation.mnist_score:.3f} ± {evaluation.mnist_score_sd:.3f}"
    value = getattr(evaluation, attribute)
    return "needs real digits" if value is None else fmt.format(value)


def _row_labels(report: EvalReport) -> dict[str, str]:
    """Row labels that fit the classifier: the MNIST score for digits, the classifier score for named classes."""
    classes = len(report.model.class_shares)
    labels = {attribute: label for label, attribute, _ in ROWS}
    if report.class_names:
        labels["mnist_score"] = f"classifier score (max {classes})"
        labels["min_class_share"] = f"smallest class share ({1 / classes:.3f} = even)"
    return labels


def _shares(values, names) -> str:
    return " ".join(f"{names[i] if names else i}:{value:.3f}" for i, value in enumerate(values))


def format_table(report: EvalReport) -> str:
    """The report as an aligned plain-text table, model beside floor, with class shares below."""
    seed = "" if report.seed is None else f", seed {report.seed}"
    header = ("metric", f"judged (n={report.model.count})", f"real floor (n={report.floor_count})")
    rows = [header]
    labels = _row_labels(report)
    for _, attribute, fmt in ROWS:
        if attribute in PRDC_KEYS and report.model.precision is None and report.floor.precision is None:
            continue
        rows.append((labels[attribute], _cell(report.model, attribute, fmt), _cell(report.floor, attribute, fmt)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{report.source}: {report.model.count} {'images' if report.class_names else 'digits'}{seed}, "
             f"judged in {report.seconds:.1f} s"]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    names = report.class_names
    lines.append("class shares  " + _shares(report.model.class_shares, names))
    lines.append("floor shares  " + _shares(report.floor.class_shares, names))
    if report.model.class_accuracy is not None:
        lines.append(f"the classifier agrees with {report.asked or 'the requested digit'} on "
                     f"{report.model.class_accuracy:.4f} of samples")
        lines.append(("per digit     " if not names else "per class     ")
                     + _shares(report.model.per_class_accuracy, names))
    accuracy = report.classifier.get("accuracy")
    judge = f"classifier test accuracy {accuracy:.4f}; " if isinstance(accuracy, float) else ""
    if report.real_source == "MNIST":
        lines.append(f"{judge}floor: real MNIST training digits vs test statistics ({report.floor_source})")
    else:
        lines.append(f"{judge}floor: real training images of {report.real_source} vs the statistics of "
                     f"{report.reference_source} ({report.floor_source})")
    if report.model.precision is None and report.real_source == "MNIST":
        lines.append("precision/recall/density/coverage: give real test digits to compare with (gantool eval --data mnist.npz)")
    elif report.model.precision is None:
        lines.append(f"precision/recall/density/coverage: {report.real_source} holds out too few images to compare with")
    return "\n".join(lines)


def contact_sheet(sheet: list[np.ndarray], per_class: int, scale: int = 2) -> np.ndarray:
    """One row per predicted class (0..9 for digits) with up to ``per_class`` samples; empty slots stay black.

    Args:
        sheet: per class, uint8 samples ``(k, height, width, channels)``, all of one shape.

    Returns:
        A uint8 image (grey or RGB, as the samples) ready for :func:`gantool.runtime.images.save_png`.
    """
    shape = next((images.shape[1:] for images in sheet if images.ndim == 4), (28, 28, 1))
    tiles = np.zeros((len(sheet) * per_class, *shape), dtype=np.uint8)
    for digit, images in enumerate(sheet):
        tiles[digit * per_class : digit * per_class + len(images)] = images[:per_class]
    return make_grid(tiles, cols=per_class, scale=scale)
