"""``gantool train-classifier``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gantool.cli.app import app, handle_errors


@app.command("train-classifier")
@handle_errors
def train_classifier_command(
    data: Annotated[Path | None, typer.Option(help="mnist.npz or a folder of MNIST IDX files (default: $GANTOOL_DATA, Keras' cache, download): the shipped digit classifier; or a folder of images with one sub-folder per class (or an .npz with x and y): a classifier of their size and channels.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for classifier.onnx (and, for MNIST, classifier_stats.npz); default for MNIST: runtime/assets, the shipped files.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training images (default: 6 for MNIST's 60,000 digits; for a folder 20, or more to make 2,808 updates).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 128,
    lr: Annotated[float, typer.Option(help="Peak Adam learning rate (cosine decay to 0).")] = 2e-3,
    seed: Annotated[int, typer.Option(help="Seed for weights, shuffling, shifts and dropout.")] = 0,
    image_size: Annotated[int | None, typer.Option(help="Images only: side in pixels to read them at (default: their own when all are square and alike, else 64); give the generator's.", show_default=False)] = None,
    channels: Annotated[int | None, typer.Option(help="Images only: 1 (greyscale) or 3 (colour) (default: 3 when any image is in colour).", show_default=False)] = None,
    flip: Annotated[bool, typer.Option("--flip", help="Images only: also mirror training images left to right at random (photos; not digits or text).")] = False,
) -> None:
    """Train the classifier that judges generated images; write it as ONNX.

    Without --data, or with MNIST, it rebuilds the shipped digit classifier and its reference
    statistics. With a folder of labeled images it writes a classifier of their size and channels,
    its accuracy measured on a held-out fifth of each class (the split gantool eval --data uses),
    for gantool eval --classifier.

    \b
    Examples:
      gantool train-classifier --data mnist.npz --out runtime/assets
      gantool train-classifier --data pets/ --out runs/pets-clf --flip
      gantool eval --model pets.onnx --classifier runs/pets-clf/classifier.onnx --data pets/
    """
    from gantool.errors import GantoolError
    from gantool.judge.real import is_mnist_data
    from gantool.train.classifier import ClassifierConfig

    if is_mnist_data(data):
        if image_size is not None or channels is not None or flip:
            raise GantoolError("`image_size`, `channels` and `flip` are for a folder of images; MNIST's classifier "
                               "takes 28x28 digits as they are")
        from gantool.train.classifier import make_classifier_assets

        config = ClassifierConfig(epochs=6 if epochs is None else epochs, batch_size=batch_size, lr=lr, seed=seed)
        onnx_path, stats_path, trained = make_classifier_assets(data, out or Path("runtime/assets"), config,
                                                                log=typer.echo)
        typer.echo(f"Wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, test accuracy {trained.accuracy:.4f}, "
                   f"trained in {trained.seconds:.0f} s) and {stats_path}")
        return
    if out is None:
        raise GantoolError("pass `out`: a folder for the classifier of your images (the shipped MNIST one lives in "
                           "runtime/assets)")
    from gantool.train.classifier_images import IMAGES_EPOCHS, make_image_classifier

    config = ClassifierConfig(epochs=IMAGES_EPOCHS if epochs is None else epochs, batch_size=batch_size, lr=lr, seed=seed, flip=flip)
    onnx_path, trained = make_image_classifier(data, out, config, image_size=image_size, channels=channels,
                                               log=typer.echo, auto_epochs=epochs is None)
    typer.echo(f"Wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, held-out accuracy {trained.accuracy:.4f} "
               f"({trained.test_errors} errors), trained in {trained.seconds:.0f} s)")
    typer.echo(f"Next: gantool eval --model G.onnx --classifier {onnx_path} --data {data}")
