"""A classifier of your own images: the judge ``gantool eval --classifier`` uses for them.

One command makes it from a labeled folder (one sub-folder per class) or an ``.npz`` with ``x`` and ``y``::

    gantool train-classifier --data pets/ --out runs/pets-clf      # writes runs/pets-clf/classifier.onnx

The images are read through :mod:`gantool.judge.images` at the data's own size and channels (or the
``image_size`` / ``channels`` given: those of the generator to judge), exactly as ``gantool eval --data``
reads them. :func:`gantool.judge.real.held_out_split` holds out a fifth of each class, the split eval
uses too: the classifier's accuracy is measured on it, never trained on. Training and export are
:mod:`gantool.train.classifier`'s (Adam with cosine decay, random shifts, optional mirroring).

The network (:func:`build_sized_classifier`) is a small CNN whose depth follows the image size, ending
like MNIST's in ``features`` (the penultimate layer, on which FID is computed) and ``logits``:

- 28x28: MNIST's classifier (:func:`gantool.train.classifier.build_classifier`) with the data's
  channels and classes;
- any other size >= 8, one block per halving down to 4x4 or less: the last three blocks (at 32, 16
  and 8 pixels for a 64-pixel image) are [Conv3x3 -> BN -> ReLU] x 2 -> MaxPool2 with 32, 64 and 128
  filters; blocks before them (the large maps of 64- and 128-pixel images) one Conv3x3 16 -> BN ->
  ReLU -> MaxPool2, so the cost grows slowly with the size: about 39 million multiply-adds per image
  at 32x32x3, 45 million at 64x64x3 and 59 million at 128x128x3 (MNIST's: 10 million), seconds on a
  CPU for the 10,000 images of an evaluation;
- then Flatten -> Dropout -> Dense 128 -> BN -> ReLU = features -> Dropout -> Dense classes = logits.

The file's metadata holds what ``eval`` and a reader need: ``class_names`` (label order),
``image_shape``, ``accuracy`` and ``test_errors`` on the held-out images, ``held_out`` (how many),
``data_sha256`` (the decoded images' digest, :func:`gantool.judge.images.content_sha256`, which
``eval --data`` compares with), the recipe and the command. Nothing in it comes from a clock or a path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from gantool.errors import DataError, GantoolError
from gantool.train.classifier import (
    ClassifierConfig,
    TrainedClassifier,
    build_classifier,
    classifier_head,
    classifier_metadata,
    export_classifier,
    train_classifier,
)

STEM_FILTERS = 16
BLOCK_FILTERS = (32, 64, 128)
MIN_IMAGE_SIZE = 8
# Epochs when the data is a folder of images: at least IMAGES_EPOCHS, and at least MIN_STEPS updates, the
# shipped digit classifier's (6 epochs of 60,000 digits at batch 128). On 3,000 synthetic shapes (2,400
# trained on) 20 epochs were 360 updates and reached 0.51 held-out accuracy, 150 epochs (2,700) 1.00.
IMAGES_EPOCHS = 20
MIN_STEPS = 6 * (60_000 // 128)


def default_epochs(train_count: int, batch_size: int) -> int:
    """Epochs for ``train_count`` training images: :data:`IMAGES_EPOCHS`, or more to reach :data:`MIN_STEPS`."""
    return max(IMAGES_EPOCHS, math.ceil(MIN_STEPS / max(1, train_count // batch_size)))


def halvings(image_size: int) -> int:
    """How many 2x2 max-pools bring ``image_size`` down to 4 pixels or less."""
    count = 0
    while image_size > 4:
        image_size //= 2
        count += 1
    return count


def build_sized_classifier(image_shape: tuple[int, int, int], num_classes: int, config: ClassifierConfig):
    """The two-output Keras model ``image -> (logits, features)`` for ``image_shape`` images (see module docstring).

    Raises:
        GantoolError: an image smaller than 8 pixels, or not square, or fewer than 2 classes.
    """
    import keras
    from keras import layers

    size, width, channels = image_shape
    if size != width or size < MIN_IMAGE_SIZE or channels not in (1, 3):
        raise GantoolError(f"a classifier takes square images of {MIN_IMAGE_SIZE} pixels or more with 1 or 3 "
                           f"channels; got {'x'.join(map(str, image_shape))} (set `image_size`)")
    if num_classes < 2:
        raise GantoolError(f"a classifier needs at least 2 classes, got {num_classes}")
    if size == 28:
        return build_classifier(config, image_shape, num_classes)
    blocks = halvings(size)
    doubled = min(blocks, len(BLOCK_FILTERS))
    image = keras.Input(shape=tuple(image_shape), name="image")
    x = image
    for index in range(blocks):
        double = index >= blocks - doubled
        filters = BLOCK_FILTERS[index - (blocks - doubled)] if double else STEM_FILTERS
        for conv in range(2 if double else 1):
            name = f"block{index + 1}_conv{conv + 1}"
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            x = layers.ReLU(name=f"{name}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
    return classifier_head(image, x, config, num_classes)


def check_out(out_dir: Path) -> Path:
    """The classifier's path in ``out_dir`` (created when missing), refused where the shipped one lives."""
    from gantool.runtime.classifier import CLASSIFIER_NAME, asset_path
    from gantool.runtime.files import check_output_folder, check_output_path

    check_output_folder(out_dir)
    if out_dir.resolve() == asset_path(CLASSIFIER_NAME).parent.resolve():
        raise GantoolError(f"`out` {out_dir} holds the shipped MNIST classifier; write a classifier of your own "
                           "images to a folder of its own (e.g. runs/NAME-clf)")
    out_dir.mkdir(parents=True, exist_ok=True)
    return check_output_path(out_dir / CLASSIFIER_NAME)


def make_image_classifier(data: str | os.PathLike[str], out_dir: Path, config: ClassifierConfig,
                          image_size: int | None = None, channels: int | None = None,
                          log: Callable[[str], None] = print, auto_epochs: bool = False) -> tuple[Path, TrainedClassifier]:
    """Read labeled images, train on all but the held-out fifth of each class, write ``out_dir/classifier.onnx``.

    Args:
        data: a folder with one sub-folder per class, or an ``.npz`` with ``x`` and ``y``.
        out_dir: the folder for ``classifier.onnx`` (not the runtime's assets).
        config: the recipe (:class:`~gantool.train.classifier.ClassifierConfig`).
        image_size, channels: the images' size and channels (None: the data's own; see
            :func:`gantool.judge.images.read_images`): give the generator's when they differ.
        auto_epochs: replace ``config.epochs`` by :func:`default_epochs` for the training images found.

    Returns:
        The file written and the trained classifier (its held-out accuracy).

    Raises:
        DataError: the data is unreadable, unlabeled, has one class, or a class with a single image.
        GantoolError: ``out_dir`` cannot be written, or ``batch_size`` exceeds the training images.
    """
    from gantool.judge.images import read_images
    from gantool.judge.real import HELD_OUT, SPLIT_SEED, held_out_split

    out = check_out(Path(out_dir))
    decoded = read_images(data, image_size=image_size, channels=channels)
    names = decoded.class_names
    if decoded.labels is None or len(names) < 2:
        raise DataError(f"`data` {decoded.source} is {'unlabeled' if decoded.labels is None else 'one class'}; a "
                        "classifier learns classes: put each class's images in a sub-folder of its own (its name "
                        "is the class name), two classes or more")
    train, held = held_out_split(decoded.labels)
    singles = [names[c] for c in range(len(names)) if (decoded.labels == c).sum() < 2]
    if singles:
        raise DataError(f"`data` {decoded.source}: class(es) {', '.join(singles)} hold fewer than 2 images; each class "
                        "needs one to train on and one held out")
    if config.batch_size > len(train):
        raise GantoolError(f"`batch_size` {config.batch_size} is larger than the {len(train)} training images; "
                           f"use `batch_size` {max(1, len(train) // 4)} or so")
    images, labels = decoded.images, decoded.labels
    for line in decoded.summary:
        log(line)
    if auto_epochs:
        config = dataclasses.replace(config, epochs=default_epochs(len(train), config.batch_size))
    log(f"training on {len(train)} images, {len(held)} held out ({HELD_OUT:.0%} of each class, seed {SPLIT_SEED}), "
        f"{config.epochs} epochs of {len(train) // config.batch_size} updates")
    trained = train_classifier(images[train], labels[train], images[held], labels[held], config, log,
                               build=lambda c: build_sized_classifier(decoded.image_shape, len(names), c))
    metadata = classifier_metadata(trained, decoded.content_sha256, _command(data, config, decoded.image_shape))
    metadata.pop("gantool.classifier.train_seconds")  # a measurement of this machine: logged, not in the file
    metadata.update({f"gantool.classifier.{key}": json.dumps(value) for key, value in (
        ("class_names", list(names)), ("image_shape", list(decoded.image_shape)), ("held_out", len(held)))})
    max_abs = export_classifier(trained, out, metadata, images[held])
    log(f"exported {out.stat().st_size / 1e6:.2f} MB ONNX, max |Δ| vs Keras {max_abs:.2e}")
    return out, trained


def _command(data, config: ClassifierConfig, image_shape) -> str:
    """The command that remakes the classifier, naming the data by its folder's (or file's) name only."""
    size, _, channels = image_shape
    flip = " --flip" if config.flip else ""
    return (f"gantool train-classifier --data {Path(data).name} --image-size {size} --channels {channels} "
            f"--epochs {config.epochs} --batch-size {config.batch_size} --lr {config.lr} --seed {config.seed}{flip}")
