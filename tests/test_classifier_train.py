"""Training and exporting the judge classifier (TensorFlow; a few seconds on the fixture)."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.errors import GantoolError
from gantool.train.classifier import ClassifierConfig, shift_images

from .conftest import FIXTURE_NPZ


def test_shift_images_moves_each_image_within_bounds():
    images = np.full((50, 28, 28, 1), -1.0, np.float32)
    images[:, 14, 14, 0] = 1.0
    shifted = shift_images(images, 2, np.random.default_rng(0))
    rows, cols = np.nonzero(shifted[..., 0] == 1.0)[1:]
    assert len(rows) == 50 and rows.min() >= 12 and rows.max() <= 16 and cols.min() >= 12 and cols.max() <= 16
    assert len(set(zip(rows, cols, strict=False))) > 5 and np.all(np.isin(shifted, (-1.0, 1.0)))
    assert shift_images(images, 0, np.random.default_rng(0)) is images


def test_config_rejects_bad_values():
    for bad in ({"epochs": 0}, {"max_shift": 9}, {"dropout": 1.0}, {"lr": 0.0}):
        with pytest.raises(GantoolError):
            ClassifierConfig(**bad)


@pytest.mark.slow
def test_train_and_export_two_outputs_with_metadata(tmp_path):
    from gantool.runtime.classifier import Classifier
    from gantool.train.classifier import classifier_metadata, export_classifier, train_classifier

    with np.load(FIXTURE_NPZ, allow_pickle=False) as npz:
        x_train, y_train, x_test, y_test = (npz[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    config = ClassifierConfig(epochs=1, batch_size=64, feature_dim=32)
    trained = train_classifier(x_train[:1024], y_train[:1024], x_test[:200], y_test[:200], config, log=lambda _: None)
    metadata = classifier_metadata(trained, "0" * 64, "gantool train-classifier (test)")
    max_abs = export_classifier(trained, tmp_path / "clf.onnx", metadata, x_test)
    assert max_abs < 1e-3
    classifier = Classifier.load(tmp_path / "clf.onnx")
    logits, features = classifier.predict(x_test[:10])
    assert logits.shape == (10, 10) and features.shape == (10, 32) and np.all(features >= 0)
    info = classifier.info()
    assert info["recipe"]["feature_dim"] == 32 and info["data_sha256"] == "0" * 64
    assert "[-1, 1]" in info["input_convention"]
