"""The ``gantool`` command line.

Heavy libraries are imported inside each command, so ``gantool --help`` and
``gantool sample`` never import TensorFlow. Errors the user can fix print one
line on stderr and exit 2; internal errors exit 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from gantool.export import registry as export_registry
from gantool.usage import OneLineUsageGroup

app = typer.Typer(
    name="gantool",
    cls=OneLineUsageGroup,
    help="Train a DCGAN digit generator, export it to ONNX/TFLite, and sample it without TensorFlow.",
    epilog=(
        "Examples:\n\n"
        "  gantool train --data mnist.npz --epochs 20 --out runs/dcgan\n\n"
        "  gantool export --format onnx --model runs/dcgan --out g.onnx\n\n"
        "  gantool sample --model g.onnx --out grid.png --count 64 --seed 3"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
_state = {"debug": False}


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(command):
    """Turn GantoolError into one line + exit 2, anything else into one line + exit 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from gantool.errors import GantoolError

        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except GantoolError as exc:
            if _state["debug"]:
                raise
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            # The reader went away (e.g. `gantool info | head`): stop quietly, as Unix tools do.
            sys.stderr.close()
            raise typer.Exit(0) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            raise fail(f"internal error: {type(exc).__name__}: {str(exc)[:300]} (rerun with --debug for the traceback)", 1) from None

    return wrapper


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug
    # TensorFlow's C++ start-up chatter hides gantool's own output; --debug keeps it.
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # What TF 2.21 logs while loading ignores that variable (see gantool.quiet).
        from gantool.quiet import quiet_tensorflow_startup

        quiet_tensorflow_startup()


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
    "  gantool export --format onnx --no-fourier --model runs/dcgan --out g_b1.onnx   # direct first Conv\n"
    "  gantool export --format tflite --quantize int8 --model runs/dcgan --out g_int8.tflite\n"
    "  gantool export --format all --model runs/dcgan --out exports"
)


TRAIN_HELP = (
    "Train a GAN (the DCGAN by default) with checkpoints, grids, logs and resume.\n\n"
    "Settings not given come from the arch's tutorial recipe (defaults shown per arch below; "
    "other options fall back to the DCGAN tutorial's: batch 256, lr 1e-4, beta_1 0.9, 20 epochs).\n\n"
    "\b\nArchitectures (--arch):\n" + "{archs}" +
    "\n\n\b\nExamples:\n"
    "  gantool train --data mnist.npz --epochs 20 --out runs/dcgan\n"
    "  gantool train --arch mlp --data mnist.npz --epochs 30 --out runs/mlp\n"
    "  gantool train --arch cdcgan --data mnist.npz --epochs 10 --out runs/cdcgan\n"
    "  gantool train --dataset quadratic --out runs/quadratic     # seconds on a CPU\n"
    "  gantool train --out runs/dcgan --resume --epochs 30\n"
    "  scripts/train_default.sh mnist.npz runs/default   # the bundled model's recipe"
)


def _train_help() -> str:
    from gantool.train.archs import ARCHS

    lines = [f"  {spec.name:<10} {spec.summary}" + (f" [defaults: {', '.join(f'{k}={v}' for k, v in spec.defaults.items())}]"
                                                   if spec.defaults else "") for spec in ARCHS.values()]
    return TRAIN_HELP.replace("{archs}", "\n".join(lines))


@app.command(help=_train_help())
@handle_errors
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder for checkpoints, grids, logs and generator.keras.")],
    data: Annotated[Optional[str], typer.Option(help="mnist.npz or a folder of MNIST IDX files (else $GANTOOL_DATA, Keras' cache, download).")] = None,
    arch: Annotated[Optional[str], typer.Option(help="dcgan (default), mlp, cdcgan, or quadratic (see above).")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="mnist (default) or quadratic (implies --arch quadratic).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Total epochs (default 20; quadratic 40).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Samples per step (default 256; per-arch defaults above).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for init, data order, noise and dropout.")] = 0,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (DCGAN tutorial: 1e-4).")] = None,
    beta1: Annotated[Optional[float], typer.Option(help="Adam beta_1 (DCGAN tutorial: 0.9; DCGAN paper: 0.5).")] = None,
    d_lr: Annotated[Optional[float], typer.Option(help="Discriminator learning rate (default: --lr).")] = None,
    label_smoothing: Annotated[float, typer.Option(help="One-sided label smoothing for real images (e.g. 0.1).")] = 0.0,
    init: Annotated[Optional[str], typer.Option(help="Kernel init: glorot (tutorial) or normal (N(0, 0.02), DCGAN paper).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last complete checkpoint in --out.")] = False,
    mixed_precision: Annotated[bool, typer.Option(help="mixed_float16 on GPU, mixed_bfloat16 on CPU.")] = False,
    steps_per_epoch: Annotated[Optional[int], typer.Option(help="Cap steps per epoch (smoke tests; quadratic: steps of fresh points).")] = None,
    keep_epochs: Annotated[bool, typer.Option(help="Also keep each epoch's generator under RUN/epochs/.")] = False,
    eval_every: Annotated[int, typer.Option(help="Every N epochs log quality figures (classifier-FID, MNIST score, class KL; for points mean |y - x^2|); keep the best generator as RUN/best.keras. 0: off.")] = 0,
    eval_count: Annotated[int, typer.Option(help="Samples generated for each --eval-every evaluation.")] = 5000,
    d_steps: Annotated[int, typer.Option(help="Discriminator updates per generator update. May change at --resume.")] = 1,
    ema: Annotated[float, typer.Option(help="Save/export a moving average of the generator weights with this decay (e.g. 0.999); 0: off.")] = 0.0,
    lr_decay_start: Annotated[int, typer.Option(help="From this epoch, decay both learning rates linearly to 0 at --epochs (0: constant).")] = 0,
    aux_weight: Annotated[float, typer.Option(help="Auxiliary digit-class task (CatGAN-style): a 10-way head on the discriminator learns the real labels, the generator is rewarded for confidently classified, class-balanced samples. The generator is unchanged. 0: off. May change between non-zero values at --resume (recorded in the model's contract).")] = 0.0,
    aux_fake_weight: Annotated[float, typer.Option(help="With --aux-weight: also train the class head to be uncertain on generated digits (CatGAN's discriminator term), so the generator cannot please it with ambiguous ones. 0: off.")] = 0.0,
    aux_balance: Annotated[str, typer.Option(help="With --aux-weight: how every class is kept in use. batch: the entropy of each batch's mean class prediction (CatGAN's; it also rewards blends of two digits); running: score each batch against the running class shares (no reward for blends).")] = "batch",
    aux_sharpen: Annotated[str, typer.Option(help="With --aux-weight: what the generator's class reward makes certain. entropy: each sample's prediction entropy (CatGAN's; its gradient vanishes on an even blend of two digits); max: minus the log-probability of the leading class (pushes a blend towards that class). May change at --resume.")] = "entropy",
    top_k: Annotated[float, typer.Option(help="Train the generator's adversarial loss on this fraction of each batch of fakes, those the discriminator rates most real (top-k training, Sinha et al. 2020). 1: all. May change at --resume.")] = 1.0,
    stop_after: Annotated[Optional[int], typer.Option(help="Stop after this epoch (checkpoint saved) without finishing the --epochs schedule; continue later with --resume.")] = None,
) -> None:
    from gantool.errors import GantoolError
    from gantool.train.archs import resolve_arch
    from gantool.train.config import TrainConfig

    if init not in (None, "glorot", "normal"):
        raise GantoolError(f"--init must be glorot or normal, got {init!r}")
    spec = resolve_arch(arch, dataset)
    config = TrainConfig.for_arch(
        spec.name, epochs=epochs, batch_size=batch_size, seed=seed, lr=lr, beta1=beta1, d_lr=d_lr,
        label_smoothing=label_smoothing, initializer=init, mixed_precision=mixed_precision,
        steps_per_epoch=steps_per_epoch, keep_epochs=keep_epochs, eval_every=eval_every, eval_count=eval_count,
        ema_decay=ema, d_steps=d_steps, lr_decay_start=lr_decay_start, aux_weight=aux_weight,
        aux_fake_weight=aux_fake_weight,
        aux_balance=aux_balance, aux_sharpen=aux_sharpen, top_k=top_k,
    )
    from gantool.train.trainer import train as run_training

    try:
        run = run_training(config, out, data=data, resume=resume, log=typer.echo, stop_after=stop_after)
    except KeyboardInterrupt:
        # Ctrl-C during a checkpoint save waits for the save (see train.checkpoint), so what is there is whole.
        from gantool.train.trainer import RunDir

        if RunDir(out).checkpoint.is_file():
            raise fail(f"interrupted; every completed epoch is saved in {out}; to continue, run the same command "
                       "again with --resume", 130) from None
        raise fail("interrupted before the first epoch was saved; nothing to resume, run the same command again", 130) from None
    if stop_after is not None and stop_after < config.epochs:
        typer.echo(f"Stopped after epoch {stop_after} of {config.epochs}; continue with the same command, "
                   "--resume and without --stop-after")
        return
    typer.echo(f"Saved {run.generator} and {run.gif}")
    typer.echo(f"Next: gantool export --format onnx --model {run.root} --out {run.root / 'generator.onnx'}")


@app.command(help=EXPORT_HELP)
@handle_errors
def export(
    model: Annotated[Path, typer.Option(help="Run folder, its generator.keras, or any Keras latent->image model.")],
    out: Annotated[Path, typer.Option(help="Output file (g.onnx, g.tflite), or a folder for --format all.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="Export format, or all supported pairs.")] = ExportFormat.onnx,
    quantize: Annotated[Optional[export_registry.Quantization], typer.Option(
        help=f"Quantization (default none). Supported: {export_registry.supported_pairs()}.")] = None,
    calibration_size: Annotated[int, typer.Option(help="Latents that calibrate int8 exports.")] = export_registry.DEFAULT_CALIBRATION_SIZE,
    opset: Annotated[int, typer.Option(help="ONNX opset (13-18).")] = 17,
    value_range: Annotated[str, typer.Option(help="Output range LOW,HIGH when the model has no gantool config.")] = "-1,1",
    plain: Annotated[bool, typer.Option(help="ONNX: keep tf2onnx's graph (ConvTranspose) instead of the faster rewrite.")] = False,
    fourier: Annotated[Optional[bool], typer.Option("--fourier/--no-fourier", show_default=False, help=(
        "ONNX float32: compute the 5x5 layer through a DFT (on by default with the optimized graph): "
        "~2x images/s at batch 64; --no-fourier: a direct Conv, ~14 MB less memory and a little faster "
        "at batch 1 (README: Speed)."))] = None,
    eval_count: Annotated[int, typer.Option(help="--format all: judge each file with gantool eval at this n (0: skip).")] = 2000,
) -> None:
    """Export a trained generator and check it against the Keras model (help text: EXPORT_HELP)."""
    from gantool.errors import GantoolError
    from gantool.runtime.files import check_output_path

    try:
        low, high = (float(v) for v in value_range.split(","))
    except ValueError:
        raise GantoolError(f"--value-range must be LOW,HIGH (e.g. -1,1), got {value_range!r}") from None
    options = export_registry.ExportOptions(calibration_size=calibration_size, opset=opset, plain=plain, fourier=fourier)
    if format.value == "all":
        if quantize is not None:
            raise GantoolError("--format all writes every quantization mode; drop --quantize")
        if eval_count and eval_count < 20:
            raise GantoolError(f"--eval-count must be 0 (skip) or at least 20, got {eval_count}")
        return _export_all(model, out, (low, high), options, eval_count)
    entry = export_registry.lookup(format.value, quantize or export_registry.Quantization.none)
    if fourier is not None and entry.key != "onnx/none":
        raise GantoolError(f"--{'' if fourier else 'no-'}fourier applies to --format onnx without --quantize, "
                           f"not {entry.key}")
    if out.suffix.lower() != entry.suffix:
        raise GantoolError(f"--out must end with {entry.suffix} for --format {entry.format.value} "
                           f"(the runtime picks its backend from the suffix), got {out}")
    check_output_path(out)
    if entry.format is export_registry.ExportFormat.tflite:
        from gantool.runtime.backends.tflite_backend import require_litert

        require_litert()
    from gantool.export.all_formats import export_one
    from gantool.export.source import load_source

    keras_model, contract, _ = load_source(model, (low, high))
    parity = export_one(keras_model, contract, entry, out, options)
    details = [f"opset {opset}"] if entry.format.value == "onnx" else []
    if entry.key == "onnx/none":
        from gantool.runtime.backends import open_backend

        kind = _graph_kind(open_backend(out))
        if kind == "optimized+fourier":
            details.append("first Conv through a DFT")
        elif options.dft_layer:
            details.append(f"{kind} graph (no Dense -> 'same' Conv layer for the DFT form)")
        else:
            details.append(f"{kind} graph")
    if entry.calibrated:
        from gantool.runtime.backends import open_backend

        details.append(f"calibrated on {calibration_size} latents")
        float_ops = open_backend(out).contract.float_ops
        if float_ops:
            details.append(f"{', '.join(float_ops)} left in float")
    typer.echo(f"Wrote {out} ({out.stat().st_size / 1e6:.2f} MB), {', '.join([entry.key, *details])}")
    typer.echo(f"Parity vs Keras (float64 reference, batch 1 and 64): max |Δ| {parity.max_abs:.2e}, mean |Δ| {parity.mean_abs:.2e}, "
               f"PSNR {parity.psnr_db:.1f} dB (bound {entry.tolerance.describe()})")
    if entry.status is export_registry.Status.not_recommended:
        typer.echo(f"Note: {entry.key} is not recommended: {entry.note}")
    typer.echo(f"Next: gantool sample --model {out} --out grid.png")


def _export_all(model: Path, out: Path, value_range: tuple[float, float], options, eval_count: int) -> None:
    """``gantool export --format all``: every registry pair into one folder, a table and report.json."""
    from gantool.errors import GantoolError
    from gantool.export.all_formats import ExportStatus, export_all, format_table, prepare_folder, write_report
    from gantool.export.source import load_source

    keras_model, contract, source = load_source(model, value_range)
    folder = prepare_folder(out)  # after the model loaded: a bad --model leaves no empty folder behind
    outcomes = export_all(keras_model, contract, folder, options, log=typer.echo, eval_count=eval_count)
    report = write_report(folder, outcomes, contract, source, options)
    typer.echo(format_table(outcomes))
    typer.echo(f"Report: {report}")
    failed = [o.entry.key for o in outcomes if o.status is not ExportStatus.passed]
    if failed:
        raise GantoolError(f"{len(failed)} of {len(outcomes)} exports failed ({', '.join(failed)}); see {report}")


@app.command()
@handle_errors
def sample(
    out: Annotated[Optional[Path], typer.Option(help="PNG to write: a grid of digits (up to 10,000), or a scatter plot for a points model.")] = None,
    model: Annotated[Optional[Path], typer.Option(help="Exported .onnx or .tflite (default: the bundled model; bundled-int8: its int8 export).")] = None,
    count: Annotated[Optional[int], typer.Option(help="Number of samples (default 64).")] = None,
    seed: Annotated[int, typer.Option(help="Latent seed (see README: latent convention).")] = 0,
    cols: Annotated[int, typer.Option(help="Digits per grid row (with --digits: samples per digit).")] = 8,
    npy: Annotated[Optional[Path], typer.Option(help="Write the samples as .npy: uint8 images (count, H, W, C), or float32 points (count, 2); up to 1,000,000.")] = None,
    digit: Annotated[Optional[int], typer.Option(help="Only this digit: a conditional model is asked for it; an unconditional one is filtered with the shipped classifier.")] = None,
    digits: Annotated[Optional[str], typer.Option(help="One row per digit, e.g. 0-9 or 1,3,7 (--cols samples each).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="Inference threads, onnxruntime or LiteRT (default: all cores).")] = None,
    scale: Annotated[int, typer.Option(help="Upscale the grid by this integer factor.")] = 1,
) -> None:
    """Draw digits (or points) from an exported model (no TensorFlow needed).

    \b
    Examples:
      gantool sample --out grid.png                      # the bundled model
      gantool sample --model g.onnx --out grid.png --count 64 --seed 3
      gantool sample --model cdcgan.onnx --digit 7 --out sevens.png
      gantool sample --model cdcgan.onnx --digits 0-9 --out table.png
      gantool sample --model quadratic.onnx --out points.png --npy points.npy
    """
    from gantool.errors import GantoolError
    from gantool.runtime.files import atomic_path, check_output_path
    from gantool.runtime.generator import Generator
    from gantool.runtime.images import MAX_GRID_IMAGES, make_grid, png_bytes, save_png
    from gantool.runtime.sampling import draw, parse_digits

    if out is None and npy is None:
        raise GantoolError("nothing to write: pass --out grid.png and/or --npy digits.npy")
    if digit is not None and digits is not None:
        raise GantoolError("pass --digit or --digits, not both")
    if digits is not None and count is not None:
        raise GantoolError("--digits draws one row per digit; set the samples per digit with --cols, not --count")
    digit_list = parse_digits(digits) if digits is not None else None
    count = len(digit_list) * cols if digit_list else (64 if count is None else count)
    if count <= 0:
        raise GantoolError(f"--count must be a positive integer, got {count}")
    if out is not None and count > MAX_GRID_IMAGES:
        raise GantoolError(f"a grid of {count} digits is too large to look at (limit {MAX_GRID_IMAGES}); "
                           "write them with --npy instead, or lower --count")
    if out is not None and (cols <= 0 or cols > count):
        raise GantoolError(f"--cols must be between 1 and --count ({count}), got {cols}")
    if scale <= 0:
        raise GantoolError(f"--scale must be a positive integer, got {scale}")
    for path in (out, npy):
        if path is not None:
            check_output_path(path)
    # One run per 256 digits: spinning worker threads would only burn CPU the PNG encoder needs.
    generator = Generator.load(model, threads=threads, spin_wait=False)
    drawn = draw(generator, count, seed, cols, digit=digit, digits=digit_list)
    if drawn.note:
        typer.echo(drawn.note, err=True)
    if npy is not None:
        import numpy as np

        with atomic_path(npy) as tmp:
            np.save(tmp, drawn.samples, allow_pickle=False)
    if out is not None:
        if generator.contract.is_image:
            save_png(out, make_grid(drawn.samples, cols=drawn.cols, scale=scale))
        else:
            from gantool.runtime.files import write_bytes_atomic
            from gantool.runtime.points import scatter_plot

            write_bytes_atomic(out, png_bytes(scatter_plot(drawn.samples, title=f"{count} points, seed {seed}")))
    written = " and ".join(str(p) for p in (out, npy) if p is not None)
    what = "digits" if generator.contract.is_image else "points"
    typer.echo(f"Wrote {written} ({count} {what}, seed {seed}, model {generator.path.name})")


@app.command()
@handle_errors
def info(
    model: Annotated[Optional[Path], typer.Option(help="Exported .onnx or .tflite (default: the bundled model; bundled-int8: its int8 export).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the whole contract as JSON.")] = False,
) -> None:
    """Print a model's contract, size, training recipe and evaluation figures.

    Example: gantool info --model g.onnx
    """
    from gantool.runtime.generator import Generator

    generator = Generator.load(model)
    contract = generator.contract
    if json_out:
        import json

        typer.echo(json.dumps(contract.to_dict(), indent=2, sort_keys=True))
        return
    low, high = contract.value_range
    lines = [
        ("model", f"{generator.path} ({generator.path.stat().st_size / 1e6:.2f} MB, {generator.backend.name})"),
        ("arch", contract.arch),
        ("input", f"{contract.input_name}: (batch, {contract.latent_dim}) float32"
                  + (f"; {contract.label_name}: (batch,) int32 in 0..{contract.num_classes - 1}" if contract.conditional else "")),
        ("output", f"{contract.output_name}: (batch, {', '.join(map(str, contract.output_shape))}) {contract.output_kind} "
                   f"in [{low:g}, {high:g}]"),
        ("quantization", contract.quantization + (f" (calibrated on {contract.calibration_size} latents)" if contract.calibration_size else "")
         + (f"; left in float: {', '.join(contract.float_ops)}" if contract.float_ops else "")),
        *([("graph", graph)] if (graph := _graph_kind(generator.backend)) else []),
        ("latents", contract.latent_convention),
        *([("labels", "default: numpy.arange(count) % num_classes; gantool sample --digit D / --digits 0-9")]
          if contract.conditional else []),
        ("gantool", contract.gantool_version),
    ]
    if contract.training:
        recipe = ", ".join(f"{k}={v}" for k, v in sorted(contract.training.items()) if v is not None)
        lines.append(("training", recipe))
    for key, value in sorted(contract.evaluation.items()):
        lines.append((f"eval {key}", str(value)))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        typer.echo(f"{key:<{width}}  {value}")


def _graph_kind(backend) -> str:
    """What an ONNX model's graph is (``gantool.graph`` metadata: plain, optimized, optimized+fourier), else ''."""
    session = getattr(backend, "session", None)
    if session is None or not hasattr(session, "get_modelmeta"):
        return ""
    return session.get_modelmeta().custom_metadata_map.get("gantool.graph", "")


@app.command("train-classifier")
@handle_errors
def train_classifier_command(
    data: Annotated[Path, typer.Option(help="Keras mnist.npz or a folder of MNIST IDX files (its SHA-256 goes into the metadata).")],
    out: Annotated[Path, typer.Option(help="Folder for classifier.onnx and classifier_stats.npz.")] = Path("runtime/assets"),
    epochs: Annotated[int, typer.Option(help="Passes over the 60,000 training digits.")] = 6,
    batch_size: Annotated[int, typer.Option(help="Digits per step.")] = 128,
    lr: Annotated[float, typer.Option(help="Peak Adam learning rate (cosine decay to 0).")] = 2e-3,
    seed: Annotated[int, typer.Option(help="Seed for weights, shuffling, shifts and dropout.")] = 0,
) -> None:
    """Train the MNIST classifier that judges digits; write it as ONNX with its reference statistics.

    Example: gantool train-classifier --data mnist.npz --out runtime/assets
    """
    from gantool.train.classifier import ClassifierConfig, make_classifier_assets

    config = ClassifierConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    onnx_path, stats_path, trained = make_classifier_assets(data, out, config, log=typer.echo)
    typer.echo(f"Wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, test accuracy {trained.accuracy:.4f}, "
               f"trained in {trained.seconds:.0f} s) and {stats_path}")


class RealSplit(str, enum.Enum):
    test = "test"
    train = "train"


@app.command("eval")
@handle_errors
def eval_command(
    model: Annotated[Optional[Path], typer.Option(help="Exported .onnx or .tflite generator (default: the bundled model; bundled-int8: its int8 export).")] = None,
    count: Annotated[int, typer.Option(help="Digits to judge; FID depends on it, the floor is given at the same n.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Latent seed (see README: latent convention).")] = 0,
    data: Annotated[Optional[Path], typer.Option(help="mnist.npz: adds precision/recall/density/coverage against real test digits.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON to this file.")] = None,
    sheet: Annotated[Optional[Path], typer.Option(help="Contact sheet PNG: one row of samples per predicted class 0..9.")] = None,
    real: Annotated[Optional[RealSplit], typer.Option(help="Judge real MNIST digits of this split from --data instead of a model.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="onnxruntime intra-op threads (default: all cores).")] = None,
) -> None:
    """Judge a generator with the shipped MNIST classifier (no TensorFlow needed).

    Reports classifier-FID, MNIST score, the class histogram (mode-collapse alarm)
    and, with --data, precision/recall/density/coverage, beside the real-data floor.

    Example: gantool eval --model g.onnx --count 10000 --data mnist.npz --json eval.json --sheet sheet.png
    """
    import json

    from gantool.errors import GantoolError
    from gantool.runtime.classifier import Classifier
    from gantool.runtime.evaluate import SHEET_PER_CLASS, RealDigits, evaluate_generator, evaluate_real
    from gantool.runtime.files import check_output_path, write_bytes_atomic
    from gantool.runtime.images import save_png
    from gantool.runtime.report import contact_sheet, format_table

    for path in (json_out, sheet):
        if path is not None:
            check_output_path(path)
    if real is not None and (data is None or model is not None):
        raise GantoolError("--real judges digits from --data instead of a model: pass --data mnist.npz and no --model")
    digits = None
    if data is not None:
        from gantool.train.mnist import load_mnist

        mnist = load_mnist(data)
        digits = RealDigits(x_train=mnist.x_train, x_test=mnist.x_test)
    if real is None:
        from gantool.runtime.generator import Generator

        generator = Generator.load(model, threads=threads)
        if not generator.contract.is_image:
            _eval_points(generator, count, seed, json_out, sheet)
            return
    classifier = Classifier.load(threads=threads)
    if real is None:
        report, samples = evaluate_generator(generator, count, seed, real=digits, classifier=classifier)
    else:
        from gantool.runtime.reference import subset_indices

        pool = digits.x_test if real == RealSplit.test else digits.x_train
        if count > len(pool):
            raise GantoolError(f"--count {count} exceeds the {len(pool)} MNIST {real.value} digits; use --count {len(pool)} or fewer")
        chosen = pool[subset_indices(len(pool), count)]
        report, samples = evaluate_real(chosen, f"MNIST {real.value} digits", real=digits, classifier=classifier)
    typer.echo(format_table(report))
    if json_out is not None:
        write_bytes_atomic(json_out, (json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n").encode())
        typer.echo(f"Wrote {json_out}")
    if sheet is not None:
        save_png(sheet, contact_sheet(samples, SHEET_PER_CLASS))
        typer.echo(f"Wrote {sheet} (row d: samples the classifier reads as digit d)")


def _eval_points(generator, count: int, seed: int, json_out: Optional[Path], sheet: Optional[Path]) -> None:
    """``gantool eval`` for a points model: closeness to y = x^2 and coverage of the x range."""
    import json

    from gantool.errors import GantoolError
    from gantool.runtime.files import write_bytes_atomic
    from gantool.runtime.images import png_bytes
    from gantool.runtime.points import COVERAGE_BINS, X_RANGE, quadratic_quality, scatter_plot

    if generator.contract.dataset != "quadratic":
        raise GantoolError(f"gantool eval judges digits and the quadratic toy; {generator.path.name} was "
                           f"trained on {generator.contract.dataset!r}")
    points = generator.sample_float(count, seed)
    quality = quadratic_quality(points)
    typer.echo(f"{generator.path}: {count} points, seed {seed}")
    typer.echo(f"mean |y - x^2| (0 = on the curve)      {quality.mean_abs_error:.4f}")
    typer.echo(f"x-range coverage ({COVERAGE_BINS} bins of {X_RANGE}) {quality.coverage:.2f}")
    typer.echo(f"points with x in range                 {quality.in_range:.3f}")
    if json_out is not None:
        report = {"source": str(generator.path), "seed": seed, "model": quality.to_dict()}
        write_bytes_atomic(json_out, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
        typer.echo(f"Wrote {json_out}")
    if sheet is not None:
        write_bytes_atomic(sheet, png_bytes(scatter_plot(points, title=f"{count} points, seed {seed}")))
        typer.echo(f"Wrote {sheet}")


@app.command()
@handle_errors
def bench(
    model: Annotated[Path, typer.Option(help="An exported .onnx/.tflite file, a folder from `gantool export --format all`, or a run folder (exported into RUN/exports first).")],
    formats: Annotated[str, typer.Option(help="all, a format (tflite), or pairs such as onnx/none,tflite/int8 (folders only).")] = "all",
    batch: Annotated[str, typer.Option(help="Batch sizes: latency at the smallest, throughput at the others.")] = "1,64",
    threads: Annotated[Optional[int], typer.Option(help="Inference threads (default: all cores).")] = None,
    repeats: Annotated[int, typer.Option(help="Timed calls per batch size, after 5 warm-up calls; medians are reported.")] = 50,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write every figure as JSON to this file.")] = None,
    floor: Annotated[Optional[float], typer.Option(help="Exit 3 when a format's throughput (img/s) at the largest batch is below this.")] = None,
    quality: Annotated[bool, typer.Option(help="Judge each format's digits: classifier-FID and MNIST score.")] = True,
    count: Annotated[int, typer.Option(help="Digits judged per format for --quality.")] = 2000,
    spin: Annotated[bool, typer.Option(help="Let onnxruntime's idle worker threads spin-wait (--no-spin often wins on a busy machine).")] = True,
) -> None:
    """Benchmark every exported format: size, load time, latency, throughput, memory, parity, quality.

    Each format runs in its own process, so peak RSS is per format. Exit codes:
    0 all measured; 2 bad input; 3 a throughput below --floor (or, with --floor,
    a format that failed to run).

    Example: gantool bench --model runs/dcgan/exports --batch 1,64 --threads 2 --json bench.json --floor 500
    """
    import json

    from gantool.errors import GantoolError
    from gantool.runtime.bench import EXIT_BELOW_FLOOR, BenchOptions, format_table, parse_batches, run_bench
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
    low = result.below_floor()
    if low:
        typer.echo(f"error: below --floor {floor:g} img/s at batch {options.batches[-1]}: {', '.join(low)}", err=True)
        raise typer.Exit(EXIT_BELOW_FLOOR)


def run() -> None:
    """Console-script entry: run the app; exit codes come from the commands."""
    app()
