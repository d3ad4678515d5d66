"""``gantool eval``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors


class RealSplit(str, enum.Enum):
    test = "test"
    train = "train"


@app.command("eval")
@handle_errors
def eval_command(
    model: Annotated[Path | None, typer.Option(help="Exported .onnx or .tflite generator (default: the bundled model; bundled-int8: its int8 export).")] = None,
    count: Annotated[int, typer.Option(help="Images to judge; FID depends on it, the floor is given at the same n.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Latent seed (the latent convention: see gantool info).")] = 0,
    data: Annotated[Path | None, typer.Option(help="Real images: mnist.npz (adds precision/recall/density/coverage against real test digits), or the labeled folder (or .npz with x, y) a --classifier was trained on: its held-out images give the FID reference, its training images the floor.")] = None,
    classifier: Annotated[Path | None, typer.Option(help="A classifier.onnx from gantool train-classifier --data DIR, for images other than 28x28 digits (needs --data DIR); default: the shipped MNIST classifier.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Contact sheet PNG: one row of samples per predicted class.")] = None,
    real: Annotated[RealSplit | None, typer.Option(help="Judge real images of this split from --data instead of a model.")] = None,
    threads: Annotated[int | None, typer.Option(help="onnxruntime intra-op threads (default: all cores).")] = None,
) -> None:
    """Judge a generator with a classifier (no TensorFlow needed): the shipped MNIST one, or your own.

    Reports classifier-FID, the classifier score (the MNIST score for digits), the class histogram
    (mode-collapse alarm) and, with --data, precision/recall/density/coverage, beside the real-data floor.

    \b
    Examples:
      gantool eval --model g.onnx --count 10000 --data mnist.npz --json eval.json --sheet sheet.png
      gantool eval --model pets.onnx --classifier runs/pets-clf/classifier.onnx --data pets/ --count 2000
    """
    from gantool.errors import GantoolError
    from gantool.runtime.classifier import Classifier
    from gantool.runtime.files import check_output_path

    for path in (json_out, sheet):
        if path is not None:
            check_output_path(path)
    if real is not None and (data is None or model is not None):
        raise GantoolError("--real judges digits from --data instead of a model: pass --data (mnist.npz, or the "
                           "images a --classifier was trained on) and no --model")
    judge = Classifier.load(classifier, threads=threads)
    generator = None
    if real is None:
        from gantool.runtime.generator import Generator

        generator = Generator.load(model, threads=threads)
        if generator.contract_note:
            typer.echo(generator.contract_note, err=True)
    if generator is not None and not generator.contract.is_image:
        from gantool.judge.points import evaluate_points

        report = evaluate_points(generator, count, seed)
        typer.echo("\n".join(report.lines()))
        return _write_outputs(report, None, json_out, sheet)
    from gantool.judge.report import format_table

    report, samples = _judge_images(generator, judge, data, real, count, seed)
    typer.echo(format_table(report))
    _write_outputs(report, samples, json_out, sheet)


def _judge_images(generator, judge, data: Path | None, real: RealSplit | None, count: int, seed: int):
    """The report and contact-sheet samples of a generator (or of --real images) judged by ``judge``."""
    from gantool.judge.evaluate import check_shapes, evaluate_generator, evaluate_split
    from gantool.judge.real import data_note, load_real, reference_for

    if generator is not None:
        check_shapes(generator, judge)  # before the data is read
    images = load_real(data, judge) if data is not None else None
    if images is not None and (note := data_note(judge, images)):
        typer.echo(note, err=True)
    reference = reference_for(judge, images)
    if real is not None:
        return evaluate_split(images, real.value, count, classifier=judge, reference=reference)
    return evaluate_generator(generator, count, seed, real=images, classifier=judge, reference=reference)


def _write_outputs(report, samples, json_out: Path | None, sheet: Path | None) -> None:
    """--json and --sheet: the report as JSON, and a contact sheet (digits) or a plot (points)."""
    import json

    from gantool.judge.evaluate import SHEET_PER_CLASS
    from gantool.judge.report import contact_sheet
    from gantool.runtime.files import write_bytes_atomic
    from gantool.runtime.images import save_png

    if json_out is not None:
        write_bytes_atomic(json_out, (json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n").encode())
        typer.echo(f"Wrote {json_out}")
    if sheet is not None:
        if samples is None:
            save_png(sheet, report.plot())
            typer.echo(f"Wrote {sheet}")
        else:
            save_png(sheet, contact_sheet(samples, SHEET_PER_CLASS))
            names = report.class_names
            rows = f"rows: {', '.join(names)}" if names else "row d: samples the classifier reads as digit d"
            typer.echo(f"Wrote {sheet} ({rows})")
