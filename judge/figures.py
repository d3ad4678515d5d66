"""Figures of a batch of digits: the classifier's outputs, or images, -> :class:`Evaluation`.

Runtime only (numpy + onnxruntime). The two lowest entry points of judging, what a training loop
calls on its generator's output (no sampling, no floor):

- :func:`evaluate_outputs`: classifier logits and features -> :class:`Evaluation`;
- :func:`evaluate_images`: images (uint8, or floats in [-1, 1] as a tanh generator emits them,
  e.g. straight from TensorFlow during training) -> :class:`Evaluation`.

:mod:`gantool.judge.evaluate` builds on them to judge ``count`` samples of a model beside the
real-data floor, and :mod:`gantool.judge.floor` to build that floor.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from gantool.errors import GantoolError, ModelFileError
from gantool.judge.metrics import class_balance, fid, mnist_score, prdc
from gantool.judge.reference import ReferenceStats
from gantool.runtime.classifier import Classifier, softmax, to_classifier_input
from gantool.runtime.contract import DEFAULT_VALUE_RANGE

MIN_COUNT = 20


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Quality figures of ``count`` digits (see :mod:`gantool.judge.metrics` for definitions).

    Args:
        count: number of digits judged (FID and the other figures depend on it).
        fid: classifier-FID against the MNIST test-set statistics.
        mnist_score, mnist_score_sd: Inception Score with the MNIST classifier, mean and sd over 10 splits.
        class_kl: KL divergence of the predicted-class histogram to uniform.
        min_class_share: share of the rarest predicted class.
        class_shares: share of each predicted class 0..9.
        precision, recall, density, coverage: against real test digits; None without real digits.
        class_accuracy: for a conditional generator, the share of digits the classifier calls the
            digit they were asked for; None for an unconditional one.
        per_class_accuracy: that share for each requested digit 0..9.
    """

    count: int
    fid: float
    mnist_score: float
    mnist_score_sd: float
    class_kl: float
    min_class_share: float
    class_shares: tuple[float, ...]
    precision: float | None = None
    recall: float | None = None
    density: float | None = None
    coverage: float | None = None
    class_accuracy: float | None = None
    per_class_accuracy: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["class_shares"] = list(self.class_shares)
        if self.per_class_accuracy is not None:
            data["per_class_accuracy"] = list(self.per_class_accuracy)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["class_shares"] = tuple(values["class_shares"])
        if values.get("per_class_accuracy") is not None:
            values["per_class_accuracy"] = tuple(values["per_class_accuracy"])
        return cls(**values)


def load_judge(classifier: Classifier | None = None,
               reference: ReferenceStats | None = None) -> tuple[Classifier, ReferenceStats]:
    """The classifier and its reference statistics (bundled ones by default), checked to belong together.

    Raises:
        ModelFileError: the statistics were computed with another classifier file.
    """
    classifier = classifier or Classifier.load()
    reference = reference or ReferenceStats.load()
    digest = hashlib.sha256(classifier.path.read_bytes()).hexdigest()
    if digest != reference.classifier_sha256:
        raise ModelFileError(
            f"reference statistics were computed with another classifier than {classifier.path}; "
            "rebuild both with `gantool train-classifier --data mnist.npz --out runtime/assets`, or, for a classifier "
            "of your own images, take the reference from them (gantool.judge.real.reference_for)"
        )
    return classifier, reference


def evaluate_outputs(logits: np.ndarray, features: np.ndarray, reference: ReferenceStats,
                     real_features: np.ndarray | None = None, labels: np.ndarray | None = None) -> Evaluation:
    """Figures from the classifier's outputs for ``n`` digits.

    Args:
        logits: ``(n, classes)`` classifier logits.
        features: ``(n, d)`` classifier features.
        reference: statistics holding the FID reference (MNIST test set).
        real_features: features of real digits for precision/recall/density/coverage, or None to skip them.
        labels: the digits a conditional generator was asked for, to measure how often it obliged.
    """
    if len(logits) < MIN_COUNT or len(logits) != len(features):
        raise GantoolError(f"evaluation needs at least {MIN_COUNT} digits; got {len(logits)} (raise `count`)")
    probs = softmax(logits)
    score, score_sd = mnist_score(probs)
    balance = class_balance(probs)
    figures = {}
    if real_features is not None:
        figures = dataclasses.asdict(prdc(real_features, features))
        figures = {k: figures[k] for k in ("precision", "recall", "density", "coverage")}
    if labels is not None:
        hits = np.argmax(logits, axis=1) == np.asarray(labels)
        figures["class_accuracy"] = float(hits.mean())
        figures["per_class_accuracy"] = tuple(
            float(hits[labels == digit].mean()) if np.any(labels == digit) else float("nan")
            for digit in range(logits.shape[1]))
    return Evaluation(
        count=len(logits), fid=fid(features, reference.test_mean, reference.test_cov),
        mnist_score=score, mnist_score_sd=score_sd, class_kl=balance.kl_to_uniform,
        min_class_share=balance.min_share, class_shares=balance.shares, **figures,
    )


def evaluate_images(images: np.ndarray, classifier: Classifier | None = None, reference: ReferenceStats | None = None,
                    real_features: np.ndarray | None = None, value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
                    labels: np.ndarray | None = None) -> Evaluation:
    """Judge a batch of images: uint8 pixels, or floats in ``value_range`` (a generator's raw output).

    This is what a training loop calls on its generator's output (no sampling, no floor).

    Example:
        >>> evaluate_images(generator(z, training=False).numpy()).fid
    """
    classifier, reference = load_judge(classifier, reference)
    inputs = to_classifier_input(images, value_range, classifier.image_shape)
    logits, features = classifier.predict(inputs)
    return evaluate_outputs(logits, features, reference, real_features, labels)
