"""Real images to judge against: MNIST, or labeled images of your own split as their classifier was trained.

``gantool eval --data`` and ``gantool train-classifier --data`` take either:

- MNIST (:func:`is_mnist_data`: no path, a Keras ``mnist.npz`` or a folder of the IDX files), read by
  :mod:`gantool.judge.mnist`, judged with the shipped classifier and its statistics;
- a folder of images with one sub-folder per class, or an ``.npz`` with ``x`` and ``y``, read by
  :mod:`gantool.judge.images` at the classifier's size and channels and split by
  :func:`held_out_split` into the images the classifier trained on and the held-out ones. The
  held-out images give the classifier's accuracy and, in ``eval``, the FID reference
  (:func:`reference_for`); the training ones give the real-data floor.

Numpy, onnxruntime and Pillow only: ``eval`` is a base-install command.

Example:
    >>> classifier = Classifier.load("runs/pets-clf/classifier.onnx")
    >>> real = load_real("pets/", classifier)
    >>> report, sheet = evaluate_generator(generator, 1000, real=real, classifier=classifier,
    ...                                    reference=reference_for(classifier, real))
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from gantool.errors import DataError, GantoolError
from gantool.judge.evaluate import RealDigits
from gantool.judge.metrics import feature_stats
from gantool.judge.mnist import IDX_NAMES, NPZ_KEYS
from gantool.judge.reference import ReferenceStats
from gantool.runtime.classifier import Classifier, describe_shape
from gantool.runtime.contract import DIGIT_SHAPE

# The held-out share of each class (train-classifier reports its accuracy on it; eval takes its FID
# reference from it) and the seed of the per-class permutation that picks it.
HELD_OUT = 0.2
SPLIT_SEED = 0
HOW_TO_PASS = ("pass `data`: a Keras mnist.npz, a folder of the MNIST IDX files, a folder of images (one "
               "sub-folder per class) or an .npz with uint8 arrays 'x' and 'y'")


def is_mnist_data(data: str | os.PathLike[str] | None) -> bool:
    """True when ``data`` is read as MNIST (:mod:`gantool.judge.mnist`): None (its search), a folder holding an
    MNIST IDX file, or a file that is no zip archive or holds MNIST's arrays (a damaged ``mnist.npz`` gets the
    MNIST reader's words). Any other folder, or an ``.npz`` with an array ``x``, is images
    (:mod:`gantool.judge.images`). ``gantool train`` decides the same way.

    Raises:
        DataError: ``data`` does not exist.
    """
    if data is None:
        return True
    path = Path(data).expanduser()
    if path.is_dir():
        stems = [name for stem in IDX_NAMES.values() for name in (stem, stem.replace("-idx", ".idx"))]
        return any((path / f"{stem}{ext}").is_file() for stem in stems for ext in ("", ".gz"))
    if not path.exists():
        raise DataError(f"`data` {path} does not exist; {HOW_TO_PASS}")
    if not zipfile.is_zipfile(path):
        return True
    with zipfile.ZipFile(path) as archive:
        names = {name.removesuffix(".npy") for name in archive.namelist()}
    return bool(names & set(NPZ_KEYS))


def held_out_split(labels: np.ndarray, fraction: float = HELD_OUT,
                   seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)`` of labeled images: ``fraction`` of each class held out.

    Each class's indices are permuted by ``numpy.random.default_rng([seed, class])`` and the first
    ``round(fraction * n)`` of them (at least 1 when the class has 2 or more images) held out, so the
    split of a class does not move when another class gains images. Both index arrays are sorted.
    """
    labels = np.asarray(labels)
    train, held = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = members[np.random.default_rng([seed, int(label)]).permutation(len(members))]
        count = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        held.append(order[:count])
        train.append(order[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def load_real(data: str | os.PathLike[str] | None, classifier: Classifier) -> RealDigits:
    """The real images of ``data`` for judging with ``classifier``: MNIST's splits, or the held-out split.

    Raises:
        DataError: the data cannot be read, is unlabeled, or its classes are not the classifier's.
        GantoolError: MNIST given to a classifier of another shape.
    """
    if is_mnist_data(data):
        from gantool.judge.mnist import load_mnist

        if tuple(classifier.image_shape) != DIGIT_SHAPE:
            raise GantoolError(f"`data` {data} is MNIST (28x28x1 digits) but `classifier` {classifier.path} takes "
                               f"{describe_shape(classifier.image_shape)} images; pass the images it was trained on")
        mnist = load_mnist(data)
        return RealDigits(x_train=mnist.x_train, x_test=mnist.x_test, y_test=mnist.y_test)
    from gantool.judge.images import read_images

    size, _, channels = classifier.image_shape
    decoded = read_images(data, image_size=size, channels=channels)
    where = decoded.source
    if decoded.labels is None:
        raise DataError(f"`data` {where} is unlabeled; eval splits the data by class into the images the classifier "
                        "trained on and the held-out ones, so it needs one sub-folder per class (as train-classifier read it)")
    names = decoded.class_names
    if classifier.class_names and names != classifier.class_names:
        raise DataError(f"`data` {where} has classes {', '.join(names)}; `classifier` {classifier.path} was trained "
                        f"on {', '.join(classifier.class_names)}: pass the data it was trained on")
    if len(names) > classifier.num_classes:
        raise DataError(f"`data` {where} has {len(names)} classes; `classifier` {classifier.path} knows "
                        f"{classifier.num_classes}: pass the data it was trained on")
    train, held = held_out_split(decoded.labels)
    return RealDigits(x_train=decoded.images[train], x_test=decoded.images[held], source=str(where),
                      class_names=names, y_test=decoded.labels[held], content_sha256=decoded.content_sha256)


def data_note(classifier: Classifier, real: RealDigits) -> str:
    """A line for the user when ``real`` is not the data ``classifier`` was trained on ("" when it is, or unknown)."""
    trained_on = classifier.info().get("data_sha256")
    if classifier.bundled or not real.content_sha256 or not isinstance(trained_on, str) or trained_on == real.content_sha256:
        return ""
    return (f"note: {real.source} is not the data {classifier.path} was trained on (its decoded images differ), "
            "so its held-out split may hold images the classifier trained on")


def reference_for(classifier: Classifier, real: RealDigits | None) -> ReferenceStats:
    """The FID reference of ``classifier``: the shipped statistics for the shipped classifier, else the statistics
    of ``real``'s held-out images (features mean and covariance; no floor table: the floor is computed).

    Raises:
        GantoolError: a classifier of your own without ``real`` images, or with fewer than 2 held out.
    """
    digest = hashlib.sha256(classifier.path.read_bytes()).hexdigest()
    shipped = ReferenceStats.load()
    if digest == shipped.classifier_sha256:
        return shipped
    if real is None:
        raise GantoolError(f"`classifier` {classifier.path} is not the shipped one, so its FID reference comes from "
                           "the images it was trained on: pass them with `data`")
    if len(real.x_test) < 2:
        raise DataError(f"`data` {real.source} holds out {len(real.x_test)} image(s); the FID reference needs "
                        "at least 2 (give each class more images)")
    logits, features = classifier.predict(real.x_test)
    mean, cov = feature_stats(features)
    accuracy = classifier.info().get("accuracy")
    if real.y_test is not None:
        accuracy = float(np.mean(np.argmax(logits, axis=1) == real.y_test))
    # Only the test statistics are read by eval; the training ones would cost a pass over every training image.
    empty = np.zeros(0)
    return ReferenceStats(mean, cov, empty, empty, {}, digest, float(accuracy or 0.0))
