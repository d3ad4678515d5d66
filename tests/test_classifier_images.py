"""gantool train-classifier on your own images: its refusals (before any training, no TensorFlow), the network
for each size, and a classifier trained on a folder judging a generator built in code (TensorFlow: seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app

from .conftest import FIXTURE_NPZ
from .image_folders import COLOUR_CLASSES, colour_folder, colour_picture


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return colour_folder(tmp_path_factory.mktemp("colours") / "colours", per_class=20)


@pytest.mark.parametrize(("args", "message"), [
    (lambda t, c: ["--data", c], "pass --out: a folder for the classifier of your images"),
    (lambda t, c: ["--data", t / "flat", "--out", t / "clf"], "is unlabeled; a classifier learns classes"),
    (lambda t, c: ["--data", c, "--out", t / "clf"], "--batch-size 128 is larger than the 48 training images"),
    (lambda t, c: ["--data", c, "--out", "runtime/assets"], "holds the shipped MNIST classifier"),
    (lambda t, c: ["--data", c, "--out", t / "clf", "--channels", "2"], "--channels must be 1 (greyscale) or 3"),
    (lambda t, c: ["--data", FIXTURE_NPZ, "--out", t, "--image-size", "32"], "are for a folder of images"),
])
def test_train_classifier_refuses_before_training(tmp_path, colours, args, message):
    (tmp_path / "flat").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):  # pictures without class folders: unlabeled
        colour_picture(rng, 0, 32).save(tmp_path / "flat" / f"{i}.png")
    result = invoke("train-classifier", *args(tmp_path, colours))
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "clf" / "classifier.onnx").exists()


@pytest.mark.slow
def test_the_classifier_s_depth_follows_the_image_size():
    import keras

    from gantool.errors import GantoolError
    from gantool.train.classifier import ClassifierConfig, build_classifier
    from gantool.train.classifier_images import build_sized_classifier

    config = ClassifierConfig()
    mnist = build_classifier(config)  # the shipped classifier's network, unchanged
    assert mnist.name == "mnist_classifier" and mnist.count_params() == 198_442
    for shape, pools in (((32, 32, 3), 3), ((64, 64, 1), 4), ((128, 128, 3), 5), ((16, 16, 1), 2), ((28, 28, 3), 2)):
        model = build_sized_classifier(shape, 5, config)
        assert tuple(model.input_shape[1:]) == shape
        assert model.output["logits"].shape[-1] == 5 and model.output["features"].shape[-1] == 128
        assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == pools
    assert [layer.name for layer in build_sized_classifier((28, 28, 3), 10, config).layers][1:] == \
        [layer.name for layer in mnist.layers][1:]
    for shape, classes in (((4, 4, 3), 3), ((32, 32, 3), 1), ((32, 16, 3), 3)):
        with pytest.raises(GantoolError):
            build_sized_classifier(shape, classes, config)


@pytest.mark.slow
def test_train_classifier_on_a_folder_then_judge_a_generator_with_it(tmp_path, colours):
    from gantool.export.keras_to_onnx import export_onnx
    from gantool.export.zoo import randomize
    from gantool.judge.images import read_images
    from gantool.runtime.classifier import Classifier
    from gantool.runtime.contract import ModelContract
    from gantool.train.models import build_sized_generator

    result = invoke("train-classifier", "--data", colours, "--out", tmp_path / "clf", "--epochs", 3,
                    "--batch-size", 16, "--flip")
    assert result.exit_code == 0, result.output
    assert "training on 48 images, 12 held out (20% of each class, seed 0)" in result.output
    assert "held-out accuracy" in result.output
    classifier = Classifier.load(tmp_path / "clf" / "classifier.onnx")
    info = classifier.info()
    assert classifier.image_shape == (32, 32, 3) and classifier.class_names == COLOUR_CLASSES
    assert info["accuracy"] >= 0.9 and info["held_out"] == 12 and info["image_shape"] == [32, 32, 3]
    assert info["data_sha256"] == read_images(colours).content_sha256 and "train_seconds" not in info
    assert info["command"].startswith("gantool train-classifier --data colours --image-size 32 --channels 3")
    logits, features = classifier.predict(read_images(colours).images[:5])
    assert logits.shape == (5, 3) and features.shape == (5, 128) and np.all(features >= 0)

    # A generator of the same shape, its latent naming the class, built and exported in code.
    generator = randomize(build_sized_generator(32, 3, latent_dim=16, base_filters=8), seed=0)
    contract = ModelContract(latent_dim=16, output_shape=(32, 32, 3), digit_code=3, class_names=COLOUR_CLASSES,
                             dataset="images")
    export_onnx(generator, contract, tmp_path / "g.onnx")
    result = invoke("eval", "--model", tmp_path / "g.onnx", "--classifier", tmp_path / "clf" / "classifier.onnx",
                    "--data", colours, "--count", 100)
    assert result.exit_code == 0, result.output
    assert "classifier score (max 3)" in result.output and "note:" not in result.output
    assert "floor shares  a_red:0.333 b_green:0.333 c_blue:0.333" in result.output
    result = invoke("sample", "--model", tmp_path / "g.onnx", "--label", "b_green", "--count", 4,
                    "--out", tmp_path / "green.png")
    assert result.exit_code == 0 and "name class b_green" in result.output, result.output


@pytest.mark.slow
def test_train_classifier_without_data_still_rebuilds_the_mnist_pair(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_DATA", str(FIXTURE_NPZ))  # what a bare `gantool train-classifier` reads first
    result = invoke("train-classifier", "--out", tmp_path, "--epochs", 1)
    assert result.exit_code == 0, result.output
    from gantool.judge.evaluate import load_judge
    from gantool.judge.reference import ReferenceStats
    from gantool.runtime.classifier import Classifier

    classifier, reference = load_judge(Classifier.load(tmp_path / "classifier.onnx"),
                                       ReferenceStats.load(tmp_path / "classifier_stats.npz"))
    assert classifier.image_shape == (28, 28, 1) and classifier.class_names == () and reference.floor


def test_a_small_folder_gets_as_many_updates_as_the_digit_classifier():
    """The default epochs for a folder: 20, or more until the shipped digit classifier's 2,808 updates (3,000
    shapes got 0.51 held-out accuracy from 20 epochs, 1.00 from 150)."""
    from gantool.train.classifier_images import IMAGES_EPOCHS, MIN_STEPS, default_epochs

    assert MIN_STEPS == 6 * (60_000 // 128)
    assert default_epochs(2_400, 128) == 156  # 18 updates an epoch
    assert default_epochs(100_000, 128) == IMAGES_EPOCHS
    assert default_epochs(200, 128) == MIN_STEPS  # one update an epoch
    for count in (300, 2_400, 9_000, 40_000):
        assert default_epochs(count, 64) * (count // 64) >= MIN_STEPS
