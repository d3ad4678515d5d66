"""Judge digits with the shipped classifier, or any images with a classifier of their own: a generator, or a batch.

Runtime only (numpy + onnxruntime). Three entry points, from lowest to highest:

- :func:`evaluate_outputs`: classifier logits and features -> :class:`Evaluation`;
- :func:`evaluate_images`: images (uint8, or floats in [-1, 1] as a tanh
  generator emits them, e.g. straight from TensorFlow during training) -> :class:`Evaluation`;
- :func:`evaluate_generator` / :func:`evaluate_real` / :func:`evaluate_split`: ``count`` samples of a
  model (or real digits) -> :class:`EvalReport`, the figures beside the
  real-data floor at the same ``n``, plus samples grouped by predicted class.

Example:
    >>> from gantool.runtime import Generator
    >>> report, sheet = evaluate_generator(Generator.load("g.onnx"), count=10_000, seed=0)
    >>> report.model.fid, report.floor.fid

Images of your own (any square size, grey or colour) are judged the same way with a classifier
trained on them (``gantool train-classifier --data DIR``): :func:`gantool.judge.real.load_real`
reads their images as :class:`RealDigits` (training and held-out split), and
:func:`gantool.judge.real.reference_for` takes the FID reference from the held-out ones.

The lowest two, :func:`evaluate_outputs` and :func:`evaluate_images`, live in
:mod:`gantool.judge.figures`; matching a generator to its classifier (:func:`check_shapes`,
:func:`same_classes`, :func:`asked_digits`) in :mod:`gantool.judge.pairing`. Both are importable
from here too.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from gantool.errors import GantoolError
from gantool.judge.figures import (  # noqa: F401  (evaluate_images re-exported: this module's public API)
    MIN_COUNT,
    Evaluation,
    evaluate_images,
    evaluate_outputs,
    load_judge,
)
from gantool.judge.metrics import DENSITY_COVERAGE_K
from gantool.judge.pairing import (  # noqa: F401  (ASKED, ASKED_CLASS re-exported: this module's public API)
    ASKED,
    ASKED_CLASS,
    asked_digits,
    check_shapes,
    same_classes,
)
from gantool.judge.reference import ReferenceStats, subset_indices
from gantool.runtime.classifier import Classifier, to_classifier_input

# Logits and features of every judged digit are held in memory, and precision/recall search
# neighbours among all fakes (n^2 distances): past this, --count costs minutes and gigabytes
# for no better figure (the shipped real-data floor stops at 60,000 digits).
MAX_COUNT = 100_000
DEFAULT_COUNT = 10_000
BATCH = 500
SHEET_PER_CLASS = 16
FULL_MNIST = (60_000, 10_000)


@dataclasses.dataclass(frozen=True)
class EvalReport:
    """A model's figures beside the real-data floor at the same ``n``.

    Args:
        source: what was judged (model path, or ``MNIST test digits``).
        seed: the latent seed (None for real digits).
        model: the judged digits' figures.
        floor: figures of real training digits judged the same way.
        floor_count: the ``n`` of the floor (equals ``model.count`` unless noted in ``floor_source``).
        floor_source: where the floor came from (shipped table, or computed from the given real digits).
        seconds: wall time of the evaluation.
        classifier: the classifier's accuracy and file hash.
        asked: for a generator told which digit to draw, how it was told (:data:`ASKED`), else "".
        class_names: the classifier's class names (empty: the digits 0..9).
        real_source: where the real images came from (``MNIST``, or the folder given).
        reference_source: what the FID reference was computed on (``MNIST test digits``, or held-out images).
    """

    source: str
    seed: int | None
    model: Evaluation
    floor: Evaluation
    floor_count: int
    floor_source: str
    seconds: float
    classifier: dict[str, Any]
    asked: str = ""
    class_names: tuple[str, ...] = ()
    real_source: str = "MNIST"
    reference_source: str = "MNIST test digits"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"], data["floor"] = self.model.to_dict(), self.floor.to_dict()
        return data


@dataclasses.dataclass(frozen=True)
class RealDigits:
    """Real images (uint8 ``(n, 28, 28)`` MNIST digits, or ``(n, h, w, c)``) for PRDC and an exact floor at any ``n``.

    Args:
        x_train: the images the floor draws from (a classifier's training split).
        x_test: the images PRDC compares with (and, for a classifier of your own, the FID reference).
        source: ``MNIST``, or the folder / ``.npz`` they were read from.
        class_names: their classes' names (empty for MNIST).
        y_test: the labels of ``x_test``, when known.
        content_sha256: the decoded data's digest (:func:`gantool.judge.images.content_sha256`), when read from images.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    source: str = "MNIST"
    class_names: tuple[str, ...] = ()
    y_test: np.ndarray | None = None
    content_sha256: str = ""


def _real_features(classifier: Classifier, real: RealDigits | None, count: int) -> np.ndarray | None:
    """Features of ``min(count, len(x_test))`` test digits (the seeded subset the floor table used); None
    without real digits or with too few for density and coverage's neighbours."""
    if real is None or len(real.x_test) <= DENSITY_COVERAGE_K:
        return None
    return classifier.predict(real.x_test[subset_indices(len(real.x_test), count)])[1]


def _floor(classifier: Classifier, reference: ReferenceStats, real: RealDigits | None, count: int,
           real_features: np.ndarray | None) -> tuple[Evaluation, int, str]:
    """The real-data floor at ``count``: shipped table, else computed from ``real``, else the nearest ``n``.

    A reference without a table (a classifier of your own images) takes its floor from ``real``'s
    training images: ``count`` of them, or all of them when there are fewer.
    """
    if not reference.floor:
        available = len(real.x_train)
        if available < MIN_COUNT:
            raise GantoolError(f"`data` {real.source} leaves {available} training images beside the held-out ones; "
                               f"the real-data floor needs at least {MIN_COUNT}")
        chosen = subset_indices(available, count)
        logits, features = classifier.predict(real.x_train[chosen])
        how = f"n={len(chosen)}" if len(chosen) == count else f"all {len(chosen)} (fewer than n={count})"
        return (evaluate_outputs(logits, features, reference, real_features), len(chosen),
                f"computed from the given images, {how}")
    figures, table_count = reference.floor_at(count)
    # The table was made from the full MNIST set; other data (a subset, say) gets its own floor.
    full_mnist = real is None or (real.source == "MNIST" and (len(real.x_train), len(real.x_test)) == FULL_MNIST)
    if table_count == count and full_mnist:
        return Evaluation.from_dict(figures), count, f"shipped table, n={count}"
    if real is not None and count <= len(real.x_train):
        chosen = subset_indices(len(real.x_train), count)
        logits, features = classifier.predict(real.x_train[chosen])
        return evaluate_outputs(logits, features, reference, real_features), count, f"computed from the given real digits, n={count}"
    return Evaluation.from_dict(figures), table_count, f"shipped table, nearest n={table_count} (give real digits for n={count})"


def _collect(batches, classifier: Classifier, count: int, per_class: int):
    """Run image batches through the classifier, keeping up to ``per_class`` uint8 samples per predicted class."""
    logits = np.empty((count, classifier.num_classes), dtype=np.float32)
    features = np.empty((count, classifier.feature_dim), dtype=np.float32)
    kept: list[list[np.ndarray]] = [[] for _ in range(classifier.num_classes)]
    start = 0
    for batch in batches:
        stop = start + len(batch)
        logits[start:stop], features[start:stop] = classifier.run(batch)
        if per_class:
            for image, label in zip(batch, np.argmax(logits[start:stop], axis=1), strict=False):
                if len(kept[label]) < per_class:
                    kept[label].append(_float_to_uint8(image))
        start = stop
    sheet = [np.stack(images) if images else np.zeros((0, *classifier.image_shape), np.uint8) for images in kept]
    return logits, features, sheet


def _report(source: str, seed: int | None, logits: np.ndarray, features: np.ndarray, classifier: Classifier,
            reference: ReferenceStats, real: RealDigits | None, started: float,
            labels: np.ndarray | None = None) -> EvalReport:
    """Figures of the judged digits, PRDC when ``real`` is given, and the floor at the same ``n``."""
    count = len(logits)
    real_features = _real_features(classifier, real, count)
    model = evaluate_outputs(logits, features, reference, real_features, labels)
    floor, floor_count, floor_source = _floor(classifier, reference, real, count, real_features)
    info = classifier.info()
    return EvalReport(
        source=source, seed=seed, model=model, floor=floor, floor_count=floor_count, floor_source=floor_source,
        seconds=time.perf_counter() - started,
        classifier={"accuracy": info.get("accuracy"), "sha256": reference.classifier_sha256,
                    "path": str(classifier.path), "classes": classifier.num_classes},
        class_names=classifier.class_names, real_source=real.source if real is not None else "MNIST",
        reference_source="MNIST test digits" if reference.floor else f"the held-out images of {real.source}",
    )


def _check_count(count: int) -> None:
    if not isinstance(count, int) or count < MIN_COUNT:
        raise GantoolError(f"`count` must be at least {MIN_COUNT} (the MNIST score uses 10 splits), got {count}")
    if count > MAX_COUNT:
        raise GantoolError(f"`count` {count} is above the limit of {MAX_COUNT} judged digits (memory and time grow "
                           f"with it; FID is stable well before); use `count` {MAX_COUNT} or fewer")


def evaluate_generator(generator, count: int = DEFAULT_COUNT, seed: int = 0, real: RealDigits | None = None,
                       classifier: Classifier | None = None, reference: ReferenceStats | None = None,
                       per_class: int = SHEET_PER_CLASS) -> tuple[EvalReport, list[np.ndarray]]:
    """Sample ``count`` images of ``generator`` (latent convention, ``seed``) and judge them.

    Args:
        generator: a :class:`gantool.runtime.Generator` producing images of the classifier's shape
            (28x28x1 for the shipped one).
        count: images to draw; the floor is given at the same ``n``.
        seed: latent seed.
        real: real images, to add precision/recall/density/coverage and an exact floor at any ``n``.
        classifier, reference: the judge (default: the shipped MNIST classifier and its statistics);
            for a classifier of your own, :func:`gantool.judge.real.reference_for` gives the reference.
        per_class: samples kept per predicted class for the contact sheet.

    Returns:
        The report, and for each class up to ``per_class`` uint8 samples predicted as it.

    Raises:
        GantoolError: the generator's images are not of the classifier's shape.
    """
    _check_count(count)
    classifier = classifier or Classifier.load()
    check_shapes(generator, classifier)
    started = time.perf_counter()
    classifier, reference = load_judge(classifier, reference)
    value_range = generator.contract.value_range
    batches = (to_classifier_input(b, value_range, classifier.image_shape)
               for b in generator.iter_batches(count, seed, batch_size=BATCH))
    logits, features, sheet = _collect(batches, classifier, count, per_class)
    labels, asked = asked_digits(generator.contract, count, seed)
    if labels is not None and not same_classes(generator.contract, classifier):
        labels, asked = None, ""
    report = _report(str(generator.path), seed, logits, features, classifier, reference, real, started, labels)
    return dataclasses.replace(report, asked=asked), sheet


def evaluate_real(images: np.ndarray, source: str, real: RealDigits | None = None,
                  classifier: Classifier | None = None, reference: ReferenceStats | None = None,
                  per_class: int = SHEET_PER_CLASS) -> tuple[EvalReport, list[np.ndarray]]:
    """Judge given images (uint8, or floats in [-1, 1]) exactly like a generator's samples."""
    _check_count(len(images))
    started = time.perf_counter()
    classifier, reference = load_judge(classifier, reference)
    inputs = to_classifier_input(images, image_shape=classifier.image_shape)
    batches = (inputs[start : start + BATCH] for start in range(0, len(inputs), BATCH))
    logits, features, sheet = _collect(batches, classifier, len(inputs), per_class)
    return _report(source, None, logits, features, classifier, reference, real, started), sheet


def evaluate_split(real: RealDigits, split: str, count: int, classifier: Classifier | None = None,
                   reference: ReferenceStats | None = None,
                   per_class: int = SHEET_PER_CLASS) -> tuple[EvalReport, list[np.ndarray]]:
    """Judge ``count`` real digits of ``split`` (``test`` or ``train``; the floor's seeded subset) like a
    generator's samples.

    Raises:
        GantoolError: ``split`` is neither, or it holds fewer than ``count`` digits.
    """
    pools = {"test": real.x_test, "train": real.x_train}
    if split not in pools:
        raise GantoolError(f"`real` must be test or train, got {split!r}")
    pool = pools[split]
    what = f"MNIST {split} digits" if real.source == "MNIST" else f"{real.source} {split} images"
    if count > len(pool):
        raise GantoolError(f"`count` {count} exceeds the {len(pool)} {what}; use `count` {len(pool)} or fewer")
    chosen = pool[subset_indices(len(pool), count)]
    return evaluate_real(chosen, what, real=real, classifier=classifier, reference=reference,
                         per_class=per_class)


def _float_to_uint8(image: np.ndarray) -> np.ndarray:
    """A [-1, 1] image as uint8 pixels (the inverse of the classifier's input convention)."""
    return np.clip(np.rint((image + 1.0) * 127.5), 0, 255).astype(np.uint8)
