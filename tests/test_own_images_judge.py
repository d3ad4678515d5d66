"""Judging and sampling models of your own images, without TensorFlow: reading (gantool.judge.images), the
held-out split, eval --classifier --data, sample --label, info's classes and data. Seconds in all.

The pictures, the judge and the generators are made in code (tests/image_folders.py): three colour classes
at 32x32x3 whose classifier reads the dominant channel, and the MNIST fixture as PNG class folders.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import DataError, GantoolError
from gantool.judge.images import content_sha256, read_images
from gantool.judge.real import held_out_split, is_mnist_data, load_real
from gantool.runtime.classifier import Classifier
from gantool.runtime.contract import latents, name_digit
from gantool.runtime.generator import Generator

from .conftest import FIXTURE_NPZ, TINY_ONNX, run_gantool_without_tensorflow
from .image_folders import COLOUR_CLASSES, colour_classifier, colour_folder, colour_generator, digit_folder
from .web_support import tiny_generator


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """(folder, classifier, code generator, conditional generator) of the three colour classes."""
    root = tmp_path_factory.mktemp("colours")
    folder = colour_folder(root / "colours", per_class=20)
    clf = colour_classifier(root / "clf.onnx", data_sha256=read_images(folder).content_sha256)
    return folder, clf, colour_generator(root / "code.onnx"), colour_generator(root / "label.onnx", kind="conditional")


def test_read_images_matches_the_training_cache(tmp_path, colours):
    from gantool.train.images import load_images  # the cache (numpy and Pillow; tf.data only when iterated)

    folder = colours[0]
    decoded = read_images(folder, image_size=16)
    cache = load_images(folder, tmp_path / "cache", image_size=16)
    assert decoded.images.shape == (60, 16, 16, 3) and decoded.class_names == COLOUR_CLASSES
    np.testing.assert_array_equal(decoded.images, cache.images)
    np.testing.assert_array_equal(decoded.labels, cache.labels)
    assert decoded.content_sha256 == cache.content_sha256 == content_sha256(decoded.images, decoded.labels)
    assert decoded.summary[0].startswith(f"60 images from {folder}, 3 classes (a_red, b_green, c_blue), as 16x16x3")


def test_held_out_split_is_per_class_seeded_and_stable():
    labels = np.repeat([0, 1, 2], [10, 5, 1])
    train, held = held_out_split(labels)
    assert sorted(np.bincount(labels[held], minlength=3)) == [0, 1, 2]  # 2 of 10, 1 of 5, none of a single one
    assert len(np.intersect1d(train, held)) == 0 and len(train) + len(held) == len(labels)
    again = held_out_split(labels)
    assert np.array_equal(again[1], held)
    # Another class gaining images leaves the split of class 0 where it was.
    grown = np.concatenate([labels, np.full(7, 1)])
    assert np.array_equal(held_out_split(grown)[1][:2], held[:2])


def test_mnist_or_images_decided_by_what_data_holds(tmp_path, colours):
    np.savez(tmp_path / "xy.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.arange(4))
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert is_mnist_data(None) and is_mnist_data(FIXTURE_NPZ) and is_mnist_data(tmp_path / "empty.npz")
    assert is_mnist_data(tmp_path / "idx")
    assert not is_mnist_data(tmp_path / "xy.npz") and not is_mnist_data(colours[0])
    with pytest.raises(DataError, match="does not exist; pass `data`: a Keras mnist.npz, "):
        is_mnist_data(tmp_path / "missing")


def test_load_real_splits_the_classifier_s_data_and_refuses_other_data(tmp_path, colours):
    folder, clf = colours[:2]
    classifier = Classifier.load(clf)
    assert classifier.image_shape == (32, 32, 3) and classifier.class_names == COLOUR_CLASSES
    real = load_real(folder, classifier)
    assert real.x_train.shape == (48, 32, 32, 3) and real.x_test.shape == (12, 32, 32, 3)
    assert np.array_equal(np.bincount(real.y_test), [4, 4, 4]) and real.class_names == COLOUR_CLASSES
    other = colour_folder(tmp_path / "other", per_class=3, classes=("cats", "dogs", "owls"))
    with pytest.raises(DataError, match="has classes cats, dogs, owls"):
        load_real(other, classifier)
    with pytest.raises(GantoolError, match="is MNIST"):
        load_real(FIXTURE_NPZ, classifier)


def test_eval_judges_colour_images_with_their_classifier(tmp_path, colours):
    folder, clf, code, _ = colours
    out = tmp_path / "eval.json"
    result = invoke("eval", "--model", code, "--classifier", clf, "--data", folder, "--count", 150, "--json", out,
                    "--sheet", tmp_path / "sheet.png")
    assert result.exit_code == 0, result.output
    assert "code.onnx: 150 images, seed 0" in result.output and "classifier score (max 3)" in result.output
    assert "class shares  a_red:" in result.output and "(rows: a_red, b_green, c_blue)" in result.output
    assert "statistics of the held-out images of" in result.output
    report = json.loads(out.read_text())
    # The floor: all 48 training images (fewer than n); the latent names the colour the classifier reads.
    assert report["floor_count"] == 48 and "all 48 (fewer than n=150)" in report["floor_source"]
    assert report["model"]["class_accuracy"] > 0.95 and report["class_names"] == list(COLOUR_CLASSES)
    assert report["floor"]["mnist_score"] > 2.5 and report["model"]["fid"] > report["floor"]["fid"] > 0
    from PIL import Image

    assert Image.open(tmp_path / "sheet.png").mode == "RGB"
    result = invoke("eval", "--real", "train", "--classifier", clf, "--data", folder, "--count", 40)
    assert result.exit_code == 0 and "colours train images: 40 images" in result.output, result.output


def test_eval_of_the_bundled_classifier_on_a_folder_of_digits(tmp_path):
    digits = digit_folder(tmp_path / "digits", FIXTURE_NPZ)
    result = invoke("eval", "--model", TINY_ONNX, "--data", digits, "--count", 100)
    assert result.exit_code == 0, result.output
    assert "MNIST score (max 10)" in result.output and "precision, k=3" in result.output
    assert "the statistics of MNIST test digits (computed from the given real digits, n=100)" in result.output
    assert "note:" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (lambda c, t: ["--model", c[2], "--classifier", c[1], "--data", t / "flat"], "--data {flat} is unlabeled"),
    (lambda c, t: ["--model", c[2]], "the MNIST classifier judges 28x28x1 digits; "),
    (lambda c, t: ["--model", TINY_ONNX, "--classifier", c[1], "--data", c[0]], "judges 32x32x3 images; "),
    (lambda c, t: ["--model", c[2], "--classifier", c[1]], "pass them with --data"),
    (lambda c, t: ["--model", c[2], "--classifier", t / "missing.onnx"], "--classifier {missing} does not exist"),
])
def test_eval_refusals_are_one_line_exit_2(tmp_path, colours, args, message):
    (tmp_path / "flat").mkdir()
    for name in ("a.png", "b.png"):
        shutil.copyfile(colours[0] / "a_red" / "000.png", tmp_path / "flat" / name)
    result = invoke("eval", *args(colours, tmp_path), "--count", 100)
    assert result.exit_code == 2, result.output
    expected = message.format(flat=tmp_path / "flat", missing=tmp_path / "missing.onnx")
    assert expected in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_eval_with_a_classifier_of_your_own_needs_no_tensorflow(tmp_path, colours):
    folder, clf, code, _ = colours
    result = run_gantool_without_tensorflow(tmp_path, "eval", "--model", code, "--classifier", clf, "--data", folder,
                                            "--count", 60)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "classifier score (max 3)" in result.stdout


def test_sample_label_names_a_class(tmp_path, colours):
    _, _, code, conditional = colours
    result = invoke("sample", "--model", code, "--label", "c_blue", "--count", 6, "--npy", tmp_path / "blue.npy")
    assert result.exit_code == 0 and "latents set to name class c_blue" in result.output, result.output
    generator = Generator.load(code)
    expected = generator.contract.to_uint8(generator.generate(name_digit(latents(6, 8, 0), 2, 3)))
    blue = np.load(tmp_path / "blue.npy")
    assert np.array_equal(blue, expected) and (blue[..., 2].mean(axis=(1, 2)) > blue[..., 0].mean(axis=(1, 2))).all()
    result = invoke("sample", "--model", conditional, "--label", "b_green", "--count", 4, "--npy", tmp_path / "g.npy")
    assert result.exit_code == 0 and "label b_green" in result.output, result.output
    assert np.array_equal(np.load(tmp_path / "g.npy"), Generator.load(conditional).sample(4, 0, labels=1))


@pytest.mark.parametrize(("args", "message"), [
    (["--label", "cat"], "--label 'cat' is not a class of this model; its classes: a_red, b_green, c_blue"),
    (["--digit", "1"], "classes are not digits but a_red, b_green, c_blue; ask for one with --label NAME"),
    (["--digits", "0-2"], "ask for one with --label NAME"),
    (["--label", "a_red", "--digit", "0"], "pass --label or --digit/--digits, not both"),
])
def test_sample_refusals_on_a_model_with_named_classes(tmp_path, colours, args, message):
    result = invoke("sample", "--model", colours[2], "--out", tmp_path / "x.png", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_label_is_still_a_number_for_models_without_class_names(tmp_path):
    model = tiny_generator(tmp_path / "conditional.onnx", "conditional")
    for flag in ("--label", "--digit"):
        result = invoke("sample", "--model", model, flag, 3, "--count", 4, "--npy", tmp_path / f"{flag}.npy")
        assert result.exit_code == 0 and "label 3" in result.output, result.output
    assert np.array_equal(np.load(tmp_path / "--label.npy"), np.load(tmp_path / "--digit.npy"))
    result = invoke("sample", "--model", model, "--label", "seven", "--out", tmp_path / "x.png")
    assert result.exit_code == 2 and "classes have no names, they are the digits 0..9" in result.output


def test_info_shows_classes_and_data(colours):
    result = invoke("info", "--model", colours[2])
    assert result.exit_code == 0, result.output
    lines = {line.split("  ")[0]: line for line in result.output.splitlines()}
    assert "0 a_red, 1 b_green, 2 c_blue" in lines["classes"]
    assert "images; 3 classes; data colours, 60 images, content sha256 abab" in lines["data"]
    assert "gantool sample --label NAME sets it" in lines["class"]
    bundled = invoke("info")
    assert "classes" not in {line.split("  ")[0] for line in bundled.output.splitlines()}
    assert "mnist; 10 digit classes" in bundled.output


def test_class_agreement_is_measured_only_where_classes_match():
    from types import SimpleNamespace

    from gantool.judge.evaluate import same_classes
    from gantool.runtime.contract import ModelContract

    mnist = SimpleNamespace(class_names=(), num_classes=10)
    colours = SimpleNamespace(class_names=COLOUR_CLASSES, num_classes=3)
    coded = ModelContract(latent_dim=8, output_shape=(28, 28, 1), digit_code=5)
    named = ModelContract(latent_dim=8, output_shape=(32, 32, 3), digit_code=3, class_names=COLOUR_CLASSES)
    digit_folder_model = ModelContract(latent_dim=8, output_shape=(28, 28, 1), num_classes=3, class_names=("0", "1", "2"))
    assert same_classes(coded, mnist) and same_classes(named, colours) and same_classes(digit_folder_model, mnist)
    assert not same_classes(named, mnist) and not same_classes(coded, colours)
