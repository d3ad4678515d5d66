"""``gantool bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors


@app.command()
@handle_errors
def bench(
    model: Annotated[Path | None, typer.Option(help="An exported .onnx/.tflite file, bundled or bundled-int8 (the default: the bundled model), a folder from `gantool export --format all`, or a run folder (exported into RUN/exports first).")] = None,
    formats: Annotated[str, typer.Option(help="all, a format (tflite), or pairs such as onnx/none,tflite/int8 (folders only).")] = "all",
    batch: Annotated[str, typer.Option(help="Batch sizes: latency at the smallest, throughput at the others.")] = "1,64",
    threads: Annotated[int | None, typer.Option(help="Inference threads (default: all cores).")] = None,
    repeats: Annotated[int, typer.Option(help="Timed calls per batch size, after 5 warm-up calls; medians are reported.")] = 50,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write every figure as JSON to this file.")] = None,
    floor: Annotated[float | None, typer.Option(help="Exit 3 when a format's throughput (img/s) at the largest batch is below this.")] = None,
    quality: Annotated[bool, typer.Option(help="Judge each format's digits: classifier-FID and MNIST score.")] = True,
    count: Annotated[int, typer.Option(help="Digits judged per format for --quality.")] = 2000,
    spin: Annotated[bool, typer.Option(help="Let onnxruntime's idle worker threads spin-wait (--no-spin often wins on a busy machine).")] = True,
) -> None:
    """Benchmark every exported format: size, load time, latency, throughput, memory, parity, quality.

    Each format runs in its own process, so peak RSS is per format. Exit codes:
    0 all measured; 2 bad input; 3 a throughput below --floor (or, with --floor,
    a format that failed to run).

    The last line names the fastest format that stayed within its parity bound, at the
    largest batch: the one to ship to this machine.

    Example: gantool bench --model runs/dcgan/exports --batch 1,64 --threads 2 --json bench.json --floor 500
    """
    import json

    from gantool.bench.benchmark import (
        EXIT_BELOW_FLOOR,
        BenchOptions,
        fastest_line,
        format_table,
        parse_batches,
        run_bench,
    )
    from gantool.errors import GantoolError
    from gantool.runtime.files import check_output_path, write_bytes_atomic

    if json_out is not None:
        check_output_path(json_out)
    if quality and count <= 0:
        raise GantoolError(f"--count must be at least 20 digits to judge, got {count}; to skip judging pass --no-quality")
    options = BenchOptions(batches=parse_batches(batch), threads=threads, repeats=repeats,
                           quality_count=count if quality else 0, floor=floor, spin_wait=spin)
    result = run_bench(model, options, formats, log=lambda line: typer.echo(line, err=True))
    typer.echo(format_table(result))
    if json_out is not None:
        write_bytes_atomic(json_out, (json.dumps(result.to_dict(), indent=2) + "\n").encode())
        typer.echo(f"Wrote {json_out}")
    typer.echo(fastest_line(result))
    low = result.below_floor()
    if low:
        typer.echo(f"error: below --floor {floor:g} img/s at batch {options.batches[-1]}: {', '.join(low)}", err=True)
        raise typer.Exit(EXIT_BELOW_FLOOR)


# BenchOptions' names for the options spelt otherwise here.
bench.parameter_aliases = {"batches": "batch", "quality_count": "count", "spin_wait": "spin"}
