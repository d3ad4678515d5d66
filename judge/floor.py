"""The real-data floor: reference statistics built from MNIST with the shipped classifier.

Kept apart from :mod:`gantool.judge.reference` (which only loads the statistics) because
building them judges real digits exactly as :mod:`gantool.judge.figures` judges generated
ones, and evaluation itself reads the statistics: this module sits above both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gantool.judge.figures import evaluate_outputs
from gantool.judge.metrics import feature_stats
from gantool.judge.reference import FLOOR_COUNTS, ReferenceStats, subset_indices


def build_reference(classifier, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                    classifier_sha256: str, counts: tuple[int, ...] = FLOOR_COUNTS,
                    log: Callable[[str], None] = print) -> ReferenceStats:
    """Compute the statistics and the floor table with ``classifier`` (the shipped ONNX file).

    The floor for ``n`` judges ``n`` training digits (seeded subset) exactly as
    :func:`gantool.judge.figures.evaluate_outputs` judges generated ones:
    FID against the test statistics, PRDC against ``min(n, 10000)`` test digits.
    """
    test_logits, test_features = classifier.predict(x_test)
    train_logits, train_features = classifier.predict(x_train)
    accuracy = float(np.mean(np.argmax(test_logits, axis=1) == np.asarray(y_test)))
    test_mean, test_cov = feature_stats(test_features)
    train_mean, train_cov = feature_stats(train_features)
    partial = ReferenceStats(test_mean, test_cov, train_mean, train_cov, {}, classifier_sha256, accuracy)
    floor = {}
    for count in counts:
        if count > len(x_train):
            continue
        chosen = subset_indices(len(x_train), count)
        real = test_features[subset_indices(len(test_features), count)]
        figures = evaluate_outputs(train_logits[chosen], train_features[chosen], partial, real_features=real)
        floor[count] = figures.to_dict()
        log(f"floor n={count}: FID {figures.fid:.3f}, MNIST score {figures.mnist_score:.3f}, class KL {figures.class_kl:.5f}")
    return dataclasses.replace(partial, floor=floor)
