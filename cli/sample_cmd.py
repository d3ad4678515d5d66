"""``gantool sample`` and ``gantool info``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors


@app.command()
@handle_errors
def sample(
    out: Annotated[Path | None, typer.Option(help="PNG to write: a grid of digits (up to 10,000), or a scatter plot for a points model.")] = None,
    model: Annotated[Path | None, typer.Option(help="Exported .onnx or .tflite (default: the bundled model; bundled-int8: its int8 export).")] = None,
    count: Annotated[int | None, typer.Option(help="Number of samples (default 64).")] = None,
    seed: Annotated[int, typer.Option(help="Latent seed (the latent convention: see gantool info).")] = 0,
    cols: Annotated[int | None, typer.Option(help="Images per grid row (default: the count's square root, rounded up; with --digits: samples per digit, default 8).", show_default=False)] = None,
    npy: Annotated[Path | None, typer.Option(help="Write the samples as .npy: uint8 images (count, H, W, C), or float32 points (count, 2); up to 1,000,000.")] = None,
    digit: Annotated[int | None, typer.Option("--digit", help="Only this digit: a conditional model is asked for it, a model of the default recipe (its latent names the digit) gets latents set to name it; any other is filtered with the shipped classifier.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="Only this class, by name, for a model trained on class folders (gantool info lists them), drawn as --digit draws a digit; a model without class names takes a number.")] = None,
    digits: Annotated[str | None, typer.Option(help="One row per digit, e.g. 0-9 or 1,3,7 (--cols samples each).")] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads, onnxruntime or LiteRT (default: all cores).")] = None,
    scale: Annotated[int, typer.Option(help="Upscale the grid by this integer factor.")] = 1,
) -> None:
    """Draw digits, images (or points) from an exported model (no TensorFlow needed).

    \b
    Examples:
      gantool sample --out grid.png                      # the bundled model
      gantool sample --model g.onnx --out grid.png --count 64 --seed 3
      gantool sample --model cdcgan.onnx --digit 7 --out sevens.png
      gantool sample --model cdcgan.onnx --digits 0-9 --out table.png
      gantool sample --model pets.onnx --label cat --out cats.png
      gantool sample --model quadratic.onnx --out points.png --npy points.npy
    """
    from gantool.runtime.sampling import sample_to_files

    written = sample_to_files(model, out, npy, count, seed, cols, digit=digit, digits=digits, threads=threads, scale=scale,
                              label=label)
    for note in written.notes:
        typer.echo(note, err=True)
    typer.echo(f"Wrote {' and '.join(map(str, written.paths))} ({written.count} {written.what}, seed {seed}, "
               f"model {written.model})")


@app.command()
@handle_errors
def info(
    model: Annotated[Path | None, typer.Option(help="Exported .onnx or .tflite (default: the bundled model; bundled-int8: its int8 export).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the whole contract as JSON.")] = False,
) -> None:
    """Print a model's contract, size, training recipe and evaluation figures.

    Example: gantool info --model g.onnx
    """
    from gantool.runtime.generator import Generator

    generator = Generator.load(model)
    if generator.contract_note:
        typer.echo(generator.contract_note, err=True)
    contract = generator.contract
    if json_out:
        import json

        typer.echo(json.dumps(contract.to_dict(), indent=2, sort_keys=True))
        return
    from gantool.runtime.describe import describe

    recipe = None
    if contract.training:
        from gantool.train.recipes import identify  # the recipe table: data, no TensorFlow

        recipe = identify(contract.training)
    typer.echo("\n".join(describe(generator, recipe)))
