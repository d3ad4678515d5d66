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
    count: Annotated[int, typer.Option(help="Digits to judge; FID depends on it, the floor is given at the same n.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Latent seed (the latent convention: see gantool info).")] = 0,
    data: Annotated[Path | None, typer.Option(help="mnist.npz: adds precision/recall/density/coverage against real test digits.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Contact sheet PNG: one row of samples per predicted class 0..9.")] = None,
    real: Annotated[RealSplit | None, typer.Option(help="Judge real MNIST digits of this split from --data instead of a model.")] = None,
    threads: Annotated[int | None, typer.Option(help="onnxruntime intra-op threads (default: all cores).")] = None,
) -> None:
    """Judge a generator with the shipped MNIST classifier (no TensorFlow needed).

    Reports classifier-FID, MNIST score, the class histogram (mode-collapse alarm)
    and, with --data, precision/recall/density/coverage, beside the real-data floor.

    Example: gantool eval --model g.onnx --count 10000 --data mnist.npz --json eval.json --sheet sheet.png
    """
    from gantool.errors import GantoolError
    from gantool.judge.evaluate import RealDigits, evaluate_generator, evaluate_split
    from gantool.judge.report import format_table
    from gantool.runtime.classifier import Classifier
    from gantool.runtime.files import check_output_path

    for path in (json_out, sheet):
        if path is not None:
            check_output_path(path)
    if real is not None and (data is None or model is not None):
        raise GantoolError("--real judges digits from --data instead of a model: pass --data mnist.npz and no --model")
    digits = None
    if data is not None:
        from gantool.judge.mnist import load_mnist

        mnist = load_mnist(data)
        digits = RealDigits(x_train=mnist.x_train, x_test=mnist.x_test)
    if real is not None:
        report, samples = evaluate_split(digits, real.value, count, classifier=Classifier.load(threads=threads))
    else:
        from gantool.runtime.generator import Generator

        generator = Generator.load(model, threads=threads)
        if generator.contract_note:
            typer.echo(generator.contract_note, err=True)
        if generator.contract.is_image:
            report, samples = evaluate_generator(generator, count, seed, real=digits,
                                                 classifier=Classifier.load(threads=threads))
        else:
            from gantool.judge.points import evaluate_points

            report, samples = evaluate_points(generator, count, seed), None
    typer.echo(format_table(report) if samples is not None else "\n".join(report.lines()))
    _write_outputs(report, samples, json_out, sheet)


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
            typer.echo(f"Wrote {sheet} (row d: samples the classifier reads as digit d)")
