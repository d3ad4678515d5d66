"""``gantool export``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors
from gantool.export import registry as export_registry

# The export choices and help come from the one registry of formats (a light import).
ExportFormat = enum.Enum(
    "ExportFormat", {**{f.value: f.value for f in export_registry.ExportFormat}, "all": "all"}, type=str
)
EXPORT_HELP = (
    "Export a trained generator and check it against the Keras model.\n\n"
    "Each file is compared with the Keras model on fixed latents at batch 1 and 64; a breach of its "
    "bound fails the export and writes nothing. --format all writes every supported pair into the "
    "--out folder with report.json.\n\n"
    "\b\nSupported pairs (--format/--quantize, advice, bound, note):\n"
    + export_registry.help_table()
    + "\n\n\b\nExamples:\n"
    "  gantool export --format onnx --model runs/dcgan --out g.onnx\n"
    "  gantool export --format onnx --model generator.keras --out g.onnx      # any Keras latent->image model\n"
    "  gantool export --format onnx --graph plain --model runs/dcgan --out g_plain.onnx\n"
    "  gantool export --format onnx --graph fastest-here --model runs/dcgan --out g.onnx   # timed on this machine\n"
    "  gantool export --format tflite --quantize int8 --model runs/dcgan --out g_int8.tflite\n"
    "  gantool export --format all --keep-graphs --model runs/dcgan --out exports   # then on the Pi: gantool bench --model exports\n"
)


@app.command(help=EXPORT_HELP)
@handle_errors
def export(
    model: Annotated[Path, typer.Option(help="Run folder, its generator.keras, or any Keras latent->image model.")],
    out: Annotated[Path, typer.Option(help="Output file (g.onnx, g.tflite), or a folder for --format all.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="Export format, or all supported pairs.")] = ExportFormat.onnx,
    quantize: Annotated[export_registry.Quantization | None, typer.Option(
        help=f"Quantization (default none). Supported: {export_registry.supported_pairs()}.")] = None,
    calibration_size: Annotated[int, typer.Option(help="Latents that calibrate int8 exports.")] = export_registry.DEFAULT_CALIBRATION_SIZE,
    opset: Annotated[int, typer.Option(help="ONNX opset (13-18).")] = export_registry.DEFAULT_OPSET,
    value_range: Annotated[str | None, typer.Option(help="Output range LOW,HIGH of a model without a gantool config whose output layer is linear (default: read from its tanh/sigmoid output).")] = None,
    graph: Annotated[str, typer.Option(help=(
        "ONNX float32 graph. auto: the graph the rules name from the model's structure (the same model gives "
        "the same file on any machine; `gantool info` says which rule fired); fastest-here: time every "
        "candidate within the size guard on this machine and keep the rule's choice unless another wins "
        "beyond the noise (timings in the summary and report.json, never in the file); or force one: "
        "plain, layerwise, layerwise+fourier, optimized, optimized+fourier."))] = "auto",
    keep_graphs: Annotated[bool, typer.Option(help=(
        "ONNX float32: also write every other graph within the size guard that passed parity as "
        "OUT_STEM.KIND.onnx, for gantool bench to compare on the target machine."))] = False,
    eval_count: Annotated[int, typer.Option(help="--format all: judge each file with gantool eval at this n (0: skip).")] = 2000,
) -> None:
    """Export a trained generator and check it against the Keras model (help text: EXPORT_HELP)."""
    from gantool.errors import GantoolError

    try:
        given = None if value_range is None else tuple(float(v) for v in value_range.split(","))
        if given is not None and (len(given) != 2 or not given[0] < given[1]):
            raise ValueError
    except ValueError:
        raise GantoolError(f"--value-range must be LOW,HIGH with LOW < HIGH (e.g. -1,1), got {value_range!r}") from None
    quantization = quantize or export_registry.Quantization.none
    if format.value == "all" and quantize is not None:
        raise GantoolError("--format all writes every quantization mode; drop --quantize")
    options = export_registry.ExportOptions(calibration_size=calibration_size, opset=opset, graph=graph,
                                            keep_graphs=keep_graphs, log=lambda line: typer.echo(line, err=True))
    if format.value == "all":
        return _export_all(model, out, given, options, eval_count)
    from gantool.export.all_formats import describe_export, export_model

    entry, result, contract = export_model(model, out, format.value, quantization.value, given, options)
    for line in describe_export(entry, result, options, contract):
        typer.echo(line)
    typer.echo(f"Next: gantool sample --model {out} --out grid.png")


def _export_all(model: Path, out: Path, value_range: tuple[float, float] | None, options, eval_count: int) -> None:
    """``gantool export --format all``: every registry pair into one folder, a table and report.json."""
    from gantool.errors import GantoolError
    from gantool.export.all_formats import ExportStatus, export_folder, format_table

    outcomes, report = export_folder(model, out, value_range, options, eval_count, log=typer.echo)
    typer.echo(format_table(outcomes))
    typer.echo(f"Report: {report}")
    failed = [o.entry.key for o in outcomes if o.status is not ExportStatus.passed]
    if failed:
        raise GantoolError(f"{len(failed)} of {len(outcomes)} exports failed ({', '.join(failed)}); see {report}")
