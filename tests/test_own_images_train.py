"""`gantool train --data DIR` at 32, 64 and 128 pixels, grey or colour: the DCGAN paper's recipes.

The pictures are drawn here with Pillow: coloured discs and squares on plain backgrounds, 48x40 and
40x48 pixels (so every one is resized and cropped). The quick tests check which recipe the data
chooses and what is refused before anything is written; the slow ones train a few steps through the
command line and follow the model through export, sample and info.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import GantoolError
from gantool.train.recipes import recipe
from gantool.train.run_data import recipe_for_data

from .conftest import FIXTURE_NPZ

runner = CliRunner()
# A few steps of small batches: seconds on a CPU.
FEW_STEPS = ("--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8")


def draw_pictures(folder: Path, count: int, shape: str | None = None, seed: int = 0) -> Path:
    """``count`` RGB pictures in ``folder``: a ``shape`` (a disc or a square; None: either, in turn) of a
    random colour on a random plain background, 48x40 and 40x48 pixels by turns."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        size = (48, 40) if i % 2 else (40, 48)
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
        left, top = (int(v) for v in rng.integers(2, 16, 2))
        box = (left, top, left + int(rng.integers(12, 22)), top + int(rng.integers(12, 22)))
        kind = shape or ("disc", "square")[i % 2]
        draw = ImageDraw.Draw(image)
        (draw.ellipse if kind == "disc" else draw.rectangle)(box, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        image.save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def unlabeled(tmp_path_factory) -> Path:
    return draw_pictures(tmp_path_factory.mktemp("own") / "unlabeled", 24)


@pytest.fixture(scope="module")
def labeled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own") / "labeled"
    for seed, shape in enumerate(("disc", "square")):
        draw_pictures(root / shape, 12, shape, seed)
    return root


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_the_data_chooses_the_recipe(tmp_path, unlabeled, labeled):
    digits = tmp_path / "digits"
    for digit in range(10):
        (digits / str(digit)).mkdir(parents=True)
        Image.new("L", (28, 28), 25 * digit).save(digits / str(digit) / "one.png")
    assert recipe_for_data(None) == ("default", "") and recipe_for_data(FIXTURE_NPZ) == ("default", "")
    assert recipe_for_data(digits)[0] == "default"
    assert recipe_for_data(digits, image_size=32)[0] == "cdcgan-paper"  # resized: no longer MNIST's shape
    assert recipe_for_data(unlabeled) == ("dcgan-paper", "the images are unlabeled (no class sub-folders)")
    assert recipe_for_data(labeled) == ("cdcgan-paper", "the images are labeled in 2 classes")
    np.savez(tmp_path / "xy.npz", x=np.zeros((20, 28, 28), np.uint8), y=np.arange(20) % 10)
    assert recipe_for_data(tmp_path / "xy.npz")[0] == "default"
    paper = recipe("dcgan-paper").configs()[-1]
    assert (paper.batch_size, paper.lr, paper.beta1, paper.initializer.value, paper.eval_every) == (
        128, 2e-4, 0.5, "normal", 0)
    assert not (paper.code_onehot or paper.code_critic or paper.aux_weight) and paper.code_gain == 1
    assert recipe("cdcgan-paper").configs()[-1].uses_labels and not paper.uses_labels


def test_a_size_without_a_layout_is_refused_in_one_line(tmp_path, unlabeled):
    out = tmp_path / "new" / "run"
    result = invoke("train", "--data", unlabeled, "--out", out, "--image-size", 48)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "--image-size 48 has no DCGAN layout; choose 28 (the tutorial's MNIST DCGAN, greyscale) or one of " \
           "32, 64, 128" in result.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("labels", "args", "words"), [
    (False, ("--recipe", "cdcgan-paper"), "recipe cdcgan-paper needs labeled images (--arch cdcgan-paper is "
                                          "conditional) and --data has no class sub-folders"),
    (False, ("--image-size", 28, "--channels", 3), "--image-size 28 is the MNIST DCGAN, greyscale only"),
    (True, ("--image-size", 28, "--channels", 1), "--image-size 28 conditions on the 10 digits only, not 2 classes; "
                                                  "choose --image-size 32"),
])
def test_what_the_paper_recipes_refuse(tmp_path, unlabeled, labeled, labels, args, words):
    result = invoke("train", "--data", labeled if labels else unlabeled, "--out", tmp_path / "run", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert words in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_a_one_class_folder_is_not_conditional(tmp_path):
    draw_pictures(tmp_path / "data" / "only", 4)
    assert recipe_for_data(tmp_path / "data")[0] == "dcgan-paper"
    from gantool.train.run_data import load_run_data
    from gantool.train.run_dir import RunDir

    with pytest.raises(GantoolError, match="draws one class per sub-folder of `data`, which has 1; give it two"):
        load_run_data(recipe("cdcgan-paper").configs({"batch_size": 2, "image_size": 32})[-1],
                      RunDir(tmp_path / "run"), str(tmp_path / "data"))


def test_make_shapes_is_a_function_of_the_seed(tmp_path):
    """scripts/make_shapes.py: the same seed gives the same bytes, and more pictures leave the first ones be."""
    import subprocess
    import sys

    script = Path(__file__).parent.parent / "scripts" / "make_shapes.py"
    for name, count in (("a", 6), ("b", 6), ("c", 9)):
        subprocess.run([sys.executable, str(script), str(tmp_path / name), "--count", str(count), "--seed", "3"],
                       check=True, capture_output=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert [str(f) for f in files] == ["disc/00000.png", "disc/00003.png", "square/00001.png", "square/00004.png",
                                       "triangle/00002.png", "triangle/00005.png"]
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() ==
               (tmp_path / "c" / f).read_bytes() for f in files)
    picture = Image.open(tmp_path / "a" / files[0])
    assert (picture.mode, picture.size) == ("RGB", (64, 64))


def test_make_shapes_draws_the_same_shape_on_a_plain_background():
    """``--background flat`` (the control of issue 34) draws picture ``i``'s shape in the same place and colour
    as the default gradient does, on one plain colour."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_shapes", Path(__file__).parent.parent / "scripts" / "make_shapes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for index in range(6):
        kind, gradient = module.picture(0, index)
        _, flat = module.picture(0, index, "flat")
        flat, gradient = np.asarray(flat, np.int16), np.asarray(gradient, np.int16)
        assert kind == module.CLASSES[index % 3]
        corners = {tuple(flat[y, x]) for y in (0, 63) for x in (0, 63)}
        assert len(corners) == 1  # one colour behind the shape
        assert len({tuple(gradient[y, x]) for y in (0, 63) for x in (0, 63)}) > 1
        shape = np.abs(flat - flat[0, 0]).sum(axis=-1) > 60
        assert 0.03 < shape.mean() < 0.5
        near = np.abs(gradient[shape] - flat[shape]).sum(axis=-1)
        assert np.median(near) <= 3  # the shape's own pixels are the same in both



def test_make_shapes_centred_layout_draws_one_shape_per_class_in_random_colours():
    """``--layout centred`` (issue 34's control for the random place and size): each class's shape in the
    middle at one size and angle, so its outline is the same in every picture, in picture ``i``'s own
    random colours and background; a function of the seed, the default layout's bytes unchanged."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_shapes", Path(__file__).parent.parent / "scripts" / "make_shapes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    masks, colours = {}, set()
    for index in range(9):
        kind, centred = module.picture(0, index, "flat", "centred")
        _, again = module.picture(0, index, "flat", "centred")
        _, scattered = module.picture(0, index, "flat")
        assert kind == module.CLASSES[index % 3]
        centred, scattered = np.asarray(centred, np.int16), np.asarray(scattered, np.int16)
        assert np.array_equal(centred, np.asarray(again, np.int16))
        assert np.array_equal(centred[0, 0], scattered[0, 0])  # the same background colour
        back, fore = centred[0, 0].astype(float), centred[32, 32].astype(float)  # the middle is in every shape
        cover = ((centred - back) @ (fore - back)) / ((fore - back) @ (fore - back))
        shape = cover > 0.5
        assert (shape != shape[:, ::-1]).mean() < 0.005  # symmetric about the vertical middle
        rows, cols = np.nonzero(shape)
        assert abs(cols.mean() - 31.5) < 0.5 and 16 < rows.mean() < 47
        masks.setdefault(kind, []).append(shape)
        colours.add(tuple(np.median(centred[shape], axis=0)))
    for kind, same in masks.items():
        assert all((same[0] != other).mean() < 0.005 for other in same[1:]), kind  # edges differ by rounding at most
    disc = masks["disc"][0]
    assert abs(disc[32].sum() / 64 - 0.6) < 0.04  # a disc spans 60% of the side
    assert len(colours) == 9  # the colours stay random
    assert np.array_equal(np.asarray(module.picture(0, 4)[1]),
                          np.asarray(module.picture(0, 4, "gradient", "random")[1]))

@pytest.mark.slow
def test_unlabeled_colour_images_train_export_sample_and_resume(tmp_path, unlabeled):
    """32x32 RGB without labels: dcgan-paper by default, an RGB grid per epoch, a bare --resume, an ONNX
    export, an RGB sample grid and info naming the shape."""
    run = tmp_path / "run"
    result = invoke("train", "--data", unlabeled, "--out", run, "--image-size", 32, *FEW_STEPS[2:], "--epochs", 2,
                    "--stop-after", 1)
    assert result.exit_code == 0, result.output
    assert "Recipe dcgan-paper: the images are unlabeled" in result.output
    assert "24 images are few for the DCGAN paper's settings" in result.output  # train.run_data.FEW_IMAGES
    result = invoke("train", "--out", run, "--resume")
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "config.json").read_text())
    contract, data = saved["contract"], saved["data"]
    assert (contract["arch"], contract["output_shape"], contract["num_classes"], contract["dataset"]) == (
        "dcgan-paper", [32, 32, 3], 0, "images")
    assert (data["image_size"], data["channels"], data["count"], data["class_names"]) == (32, 3, 24, [])
    training = contract["training"]
    assert (training["recipe"], training["batch_size"], training["lr"], training["beta1"]) == (
        "dcgan-paper", 8, 2e-4, 0.5)
    grid = Image.open(run / "samples" / "epoch_0002.png")
    assert grid.mode == "RGB" and grid.size == ((8 * 34 + 2) * 2,) * 2  # 64 pictures of 32 px, drawn twice their size
    onnx = tmp_path / "g.onnx"
    result = invoke("export", "--format", "onnx", "--model", run, "--out", onnx)
    assert result.exit_code == 0, result.output
    result = invoke("sample", "--model", onnx, "--count", 16, "--cols", 4, "--out", tmp_path / "s.png")
    assert result.exit_code == 0, result.output
    sample = Image.open(tmp_path / "s.png")
    assert sample.mode == "RGB" and sample.size[0] == sample.size[1]
    assert np.asarray(sample).std(axis=2).max() > 0  # colour, not grey in three channels
    result = invoke("info", "--model", onnx)
    assert result.exit_code == 0 and "(batch, 32, 32, 3)" in result.output and "dcgan-paper" in result.output


@pytest.mark.slow
def test_labeled_colour_images_train_a_conditional_model_at_64(tmp_path, labeled):
    """Two class folders at 64x64: cdcgan-paper, a label input with one class per folder, names in the contract,
    size and channels in config.json, a grid of a row per class at the pictures' size, and no MNIST judge."""
    run = tmp_path / "run"
    result = invoke("train", "--data", labeled, "--out", run, "--image-size", 64, *FEW_STEPS, "--eval-every", 1)
    assert result.exit_code == 0, result.output
    assert "Recipe cdcgan-paper: the images are labeled in 2 classes" in result.output
    assert "Note: no epoch is judged: --eval-every judges digits with the shipped MNIST classifier" in result.output
    assert (run / "metrics.csv").read_text().splitlines()[0] == "epoch,d_loss,g_loss,d_real,d_fake,seconds"
    saved = json.loads((run / "config.json").read_text())
    contract, data = saved["contract"], saved["data"]
    assert (contract["arch"], contract["output_shape"], contract["num_classes"], contract["class_names"]) == (
        "cdcgan-paper", [64, 64, 3], 2, ["disc", "square"])
    assert (data["image_size"], data["channels"], data["class_names"]) == (64, 3, ["disc", "square"])
    assert saved["training"]["image_size"] == 64 and saved["training"]["channels"] is None  # the data's own
    grid = Image.open(run / "samples" / "epoch_0001.png")
    assert grid.mode == "RGB" and grid.size == (8 * 66 + 2, 2 * 66 + 2)  # a row of 8 per class, 64 px as they are
    import keras

    generator = keras.saving.load_model(run / "generator.keras", compile=False)
    assert [i.name for i in generator.inputs] == ["z", "label"]
    assert tuple(generator.outputs[0].shape) == (None, 64, 64, 3)
