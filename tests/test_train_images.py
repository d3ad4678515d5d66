"""`gantool train --data DIR`: your own images through the trainer (gantool.train.run_data).

The committed MNIST fixture written out as PNG class folders trains exactly as the same digits in
a Keras mnist.npz do, once both hold them in the same order: a folder's order is its sorted names,
class by class, so the comparison npz is the fixture sorted by label (the files are named by the
digit's index, so within a class the order is the fixture's). The data's record in config.json,
the contract, the resumption checks and the refusals are tested beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import GantoolError
from gantool.train.recipes import recipe, run_recipe
from gantool.train.run_data import load_run_data, reads_as_mnist
from gantool.train.run_dir import RunDir

from .conftest import FIXTURE_NPZ

runner = CliRunner()
# The default recipe, a few steps long, without the per-epoch judge (seconds on a CPU).
TINY = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 32, "seed": 7, "eval_every": 0}
BROKEN = "3/99999.png"  # a truncated PNG among the digits: skipped and named, training goes on


def write_digit_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """``images`` as ``root/<label>/<index:05d>.png`` (ImageFolder layout), plus one truncated PNG."""
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{i:05d}.png")
    (root / BROKEN).write_bytes((root / "3" / os.listdir(root / "3")[0]).read_bytes()[:60])
    return root


@pytest.fixture(scope="module")
def digits():
    with np.load(FIXTURE_NPZ) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, digits) -> Path:
    return write_digit_folder(tmp_path_factory.mktemp("pngs") / "digits", digits["x_train"], digits["y_train"])


@pytest.fixture(scope="module")
def folder_order_npz(tmp_path_factory, digits) -> Path:
    """The fixture as a Keras mnist.npz whose training digits are in the folder's order (by label, then index)."""
    order = np.argsort(digits["y_train"], kind="stable")
    path = tmp_path_factory.mktemp("npz") / "mnist_by_class.npz"
    np.savez(path, **{**digits, "x_train": digits["x_train"][order], "y_train": digits["y_train"][order]})
    return path


def config(**changes):
    return recipe("default").configs({**TINY, **changes})[-1]


def batches(data, run: Path, **changes) -> list:
    loaded = load_run_data(config(**changes), RunDir(run), str(data), log=lambda *_: None)
    return [(images.numpy(), labels.numpy()) for images, labels in loaded.training_dataset(config(**changes), 0, 1)]


def test_the_reader_follows_the_data(tmp_path, digit_folder, digits):
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"")
    np.savez(tmp_path / "xy.npz", x=digits["x_train"][:40], y=digits["y_train"][:40])
    (tmp_path / "notes.txt").write_text("not data\n")
    assert reads_as_mnist(None) and reads_as_mnist(FIXTURE_NPZ) and reads_as_mnist(idx)
    assert reads_as_mnist(tmp_path / "notes.txt")  # the MNIST reader's words for a file it cannot read, as before
    assert not reads_as_mnist(digit_folder) and not reads_as_mnist(tmp_path / "xy.npz")
    with pytest.raises(GantoolError, match="does not exist; pass `data`: a Keras mnist.npz, .* a folder of images"):
        reads_as_mnist(tmp_path / "missing")


def test_a_png_folder_gives_the_batches_of_the_npz_in_its_order(tmp_path, digit_folder, folder_order_npz, digits):
    """The fast tier's proof: the same shuffled batches, labels included; an x/y .npz keeps MNIST's own order."""
    ours = batches(digit_folder, tmp_path / "folder_run")
    theirs = batches(folder_order_npz, tmp_path / "npz_run")
    assert len(ours) == len(theirs) == 2 and ours[0][0].shape == (32, 28, 28, 1)
    for (image, label), (want_image, want_label) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(image, want_image)
        np.testing.assert_array_equal(label, want_label)
    np.savez(tmp_path / "xy.npz", x=digits["x_train"], y=digits["y_train"])
    for (image, label), (want_image, want_label) in zip(batches(tmp_path / "xy.npz", tmp_path / "xy_run"),
                                                        batches(FIXTURE_NPZ, tmp_path / "mnist_run"), strict=True):
        np.testing.assert_array_equal(image, want_image)
        np.testing.assert_array_equal(label, want_label)


@pytest.mark.slow
def test_the_default_recipe_trains_on_a_png_folder_as_on_the_npz(tmp_path, digit_folder, folder_order_npz):
    quiet = {"log": lambda *_: None}
    lines = []
    run_recipe(recipe("default"), tmp_path / "folder_run", TINY, data=str(digit_folder), log=lines.append)
    run_recipe(recipe("default"), tmp_path / "npz_run", TINY, data=str(folder_order_npz), **quiet)
    assert not [line for line in lines if "are few" in line]  # the small-set note is the paper recipes' only
    with np.load(tmp_path / "folder_run/checkpoints/last.npz") as ours, \
            np.load(tmp_path / "npz_run/checkpoints/last.npz") as theirs:
        assert sorted(ours.files) == sorted(theirs.files)
        for key in ours.files:  # every weight, optimizer slot, noise stream and the saved config
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    saved = json.loads((tmp_path / "folder_run/config.json").read_text())
    data, contract = saved["data"], saved["contract"]
    assert (data["dataset"], data["count"], data["image_size"], data["channels"]) == ("images", 2000, 28, 1)
    assert data["class_names"] == list("0123456789") and data["source"] == str(digit_folder.resolve())
    assert data["skipped_count"] == 1 and data["skipped"][0].startswith(f"{BROKEN}: ")
    assert len(data["content_sha256"]) == len(data["fingerprint"]) == 64
    assert (contract["dataset"], contract["class_names"], contract["output_shape"]) == (
        "images", list("0123456789"), [28, 28, 1])
    mnist = json.loads((tmp_path / "npz_run/config.json").read_text())
    assert "data" not in mnist and (mnist["contract"]["dataset"], mnist["contract"]["class_names"]) == ("mnist", [])


@pytest.mark.slow
def test_resume_reuses_the_cache_and_refuses_changed_images(tmp_path, digits):
    folder = write_digit_folder(tmp_path / "digits", digits["x_train"][:300], digits["y_train"][:300])
    run, lines = tmp_path / "run", []

    def resume(stop_after, **kwargs):
        lines.clear()
        return run_recipe(None, run, resume=True, stop_after=stop_after, log=lines.append, **kwargs)

    run_recipe(recipe("default"), run, {**TINY, "epochs": 4}, data=str(folder), stop_after=1, log=lines.append)
    assert any(line.startswith("Decoding 301 images") for line in lines)
    first = json.loads((run / "config.json").read_text())["data"]
    resume(2)  # no `data`: the run's own folder, its cache reused, nothing decoded
    assert not any(line.startswith("Decoding") for line in lines) and any("reused" in line for line in lines)
    assert any(f"Data: {folder.resolve()}" in line for line in lines)
    for png in folder.rglob("*.png"):  # a copy without its times: decoded again, the same pixels, trained on
        os.utime(png, ns=(png.stat().st_atime_ns, png.stat().st_mtime_ns + 10**9))
    resume(3)
    assert any(line.startswith("Decoding") for line in lines) and any("pixels and labels are the same" in line
                                                                      for line in lines)
    Image.fromarray(255 - digits["x_train"][0]).save(folder / str(digits["y_train"][0]) / "00000.png")
    checkpoint = (run / "checkpoints/last.npz").read_bytes()
    with pytest.raises(GantoolError, match="changed since .* pass `data_changed_ok`"):
        resume(None)
    assert (run / "checkpoints/last.npz").read_bytes() == checkpoint
    resume(None, data_changed_ok=True)
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["replaced"] == [{"until_epoch": 3, "count": 300, "content_sha256": first["content_sha256"]}]
    assert data["content_sha256"] != first["content_sha256"]


def test_the_default_recipe_refuses_other_sizes_and_colours_before_decoding(tmp_path):
    """`default` draws 28x28x1: 32x32 colour pictures are refused from their headers, leaving no run folder."""
    pictures = tmp_path / "pictures"
    for name in "abc":
        (pictures / name).mkdir(parents=True)
        Image.new("RGB", (32, 32), (200, 10, 10)).save(pictures / name / "one.png")
    out = tmp_path / "new" / "run"
    result = runner.invoke(app, ["train", "--data", str(pictures), "--out", str(out), "--recipe", "default"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "come out 32x32x3, and recipe default draws 28x28x1 only; train --recipe cdcgan-paper" in result.stderr
    assert "--image-size 28 and --channels 1" in result.stderr
    assert not (tmp_path / "new").exists()
    result = runner.invoke(app, ["train", "--data", str(pictures), "--out", str(out), "--image-size", "28",
                                 "--channels", "1", "--recipe", "default"])
    assert result.exit_code == 2 and "has 3 classes (a, b, c) and recipe default reads 10" in result.stderr
    assert "--recipe cdcgan-paper for 3 classes" in result.stderr
    assert not (tmp_path / "new").exists()


def test_unlabeled_images_need_a_recipe_without_classes(tmp_path, digits):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, image in enumerate(digits["x_train"][:40]):
        Image.fromarray(image).save(flat / f"{i}.png")
    with pytest.raises(GantoolError, match="recipe default needs labeled images.*`code_critic`.*dcgan-paper, or "
                                           "tutorial"):
        load_run_data(config(), RunDir(tmp_path / "run"), str(flat))
    assert not (tmp_path / "run").exists()
    tutorial = recipe("tutorial").configs({**TINY, "batch_size": 8})[-1]
    loaded = load_run_data(tutorial, RunDir(tmp_path / "run"), str(flat), log=lambda *_: None)
    assert loaded.labels is None and loaded.image_shape == (28, 28, 1) and loaded.class_names == ()


def test_mnist_is_not_resized(tmp_path):
    with pytest.raises(GantoolError, match="MNIST is read as it is, 28x28 greyscale, and not resized"):
        load_run_data(config(image_size=32), RunDir(tmp_path / "run"), str(FIXTURE_NPZ))


def test_help_lists_the_image_flags():
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for flag in ("--image-size", "--channels", "--data-changed-ok", "one sub-folder per class"):
        assert flag in result.output, flag
