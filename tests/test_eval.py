"""The shipped classifier and `gantool eval`: accuracy, collapse alarm, real digits, CLI. No TensorFlow."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import GantoolError, ModelFileError
from gantool.judge.evaluate import Evaluation, evaluate_generator, evaluate_images, load_judge
from gantool.judge.reference import ReferenceStats
from gantool.judge.report import contact_sheet, format_table
from gantool.runtime import Generator, ModelContract
from gantool.runtime.classifier import Classifier, asset_path, to_classifier_input

from .conftest import FIXTURE_NPZ, TINY_ONNX, run_gantool_without_tensorflow


@pytest.fixture(scope="module")
def fixture_digits():
    with np.load(FIXTURE_NPZ, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def judge():
    return load_judge()


def constant_digit_onnx(path, digit: np.ndarray, latent_dim: int = 8) -> None:
    """A generator that ignores z and always draws ``digit``: image = reshape(z @ 0 + digit)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    pixels = (digit.astype(np.float32) / 127.5 - 1.0).reshape(1, 784)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["z", "weights", "pixels"], ["flat"]),
            helper.make_node("Reshape", ["flat", "shape"], ["image"]),
        ],
        "constant_digit",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent_dim])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 28, 28, 1])],
        initializer=[
            numpy_helper.from_array(np.zeros((latent_dim, 784), np.float32), "weights"),
            numpy_helper.from_array(pixels, "pixels"),
            numpy_helper.from_array(np.array([-1, 28, 28, 1], np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    contract = ModelContract(latent_dim=latent_dim, output_shape=(28, 28, 1), arch="constant-digit")
    helper.set_model_props(model, {"gantool.contract": contract.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, path)


@pytest.fixture(scope="module")
def constant_onnx(tmp_path_factory, fixture_digits):
    path = tmp_path_factory.mktemp("constant") / "seven.onnx"
    first_seven = int(np.flatnonzero(fixture_digits["y_test"] == 7)[0])
    constant_digit_onnx(path, fixture_digits["x_test"][first_seven])
    return path


def test_shipped_classifier_is_small_accurate_and_documented(judge, fixture_digits):
    classifier, reference = judge
    assert classifier.path.stat().st_size < 2_000_000
    info = classifier.info()
    assert info["accuracy"] >= 0.993 and len(info["data_sha256"]) == 64
    assert "[-1, 1]" in info["input_convention"] and info["recipe"]["epochs"] > 0
    logits, features = classifier.predict(fixture_digits["x_test"])
    assert features.shape == (1000, 128)
    assert np.mean(np.argmax(logits, axis=1) == fixture_digits["y_test"]) >= 0.98
    assert reference.test_mean.shape == (128,) and reference.test_cov.shape == (128, 128)
    assert 10_000 in reference.floor and reference.classifier_accuracy == pytest.approx(info["accuracy"], abs=1e-6)


def test_input_convention_uint8_and_float_agree(judge, fixture_digits):
    classifier, _ = judge
    pixels = fixture_digits["x_test"][:64]
    floats = pixels.astype(np.float32)[..., None] / 127.5 - 1.0
    np.testing.assert_allclose(classifier.predict(pixels)[0], classifier.predict(floats)[0], atol=1e-5)
    np.testing.assert_allclose(to_classifier_input(floats * 0.5 + 0.5, value_range=(0.0, 1.0)), floats, atol=1e-6)
    with pytest.raises(GantoolError, match="28x28"):
        to_classifier_input(np.zeros((4, 32, 32, 1), np.float32))
    with pytest.raises(GantoolError, match="NaN"):
        to_classifier_input(np.full((1, 28, 28, 1), np.nan, np.float32))


def test_real_digits_score_high_and_balanced(judge, fixture_digits):
    figures = evaluate_images(fixture_digits["x_test"], *judge)
    assert figures.mnist_score > 9.0 and figures.class_kl < 0.03 and figures.min_class_share > 0.07
    assert figures.precision is None


def test_constant_digit_generator_flags_collapse(judge, constant_onnx, fixture_digits):
    real = _real(fixture_digits)
    report, sheet = evaluate_generator(Generator.load(constant_onnx), count=200, seed=0, real=real,
                                       classifier=judge[0], reference=judge[1], per_class=4)
    model = report.model
    assert model.class_shares[7] == 1.0 and model.min_class_share == 0.0
    assert model.class_kl == pytest.approx(math.log(10), abs=1e-9)
    assert model.mnist_score == pytest.approx(1.0, abs=1e-6)
    assert model.coverage <= 0.1 and model.recall == 0.0
    assert report.floor.class_kl < 0.05 and model.fid > 10 * report.floor.fid
    assert [len(images) for images in sheet] == [0] * 7 + [4] + [0, 0]
    assert contact_sheet(sheet, 4).shape == (10 * 30 * 2 + 4, 4 * 30 * 2 + 4)
    assert "digits, seed 0" in format_table(report)


def test_floor_comes_from_the_table_or_from_data(judge, fixture_digits):
    report, _ = evaluate_generator(Generator.load(TINY_ONNX), count=150, seed=1, classifier=judge[0],
                                   reference=judge[1], per_class=0)
    assert report.floor_count in judge[1].floor and "nearest" in report.floor_source
    assert report.model.precision is None and "needs real digits" in format_table(report)
    report, _ = evaluate_generator(Generator.load(TINY_ONNX), count=150, seed=1, real=_real(fixture_digits),
                                   classifier=judge[0], reference=judge[1], per_class=0)
    assert report.floor_count == 150 and "computed from the given real digits" in report.floor_source
    assert report.floor.precision is not None and report.model.count == 150
    # n=1000 is tabulated, but for the full MNIST set only: a data subset gets its own floor.
    report, _ = evaluate_generator(Generator.load(TINY_ONNX), count=1000, seed=1, real=_real(fixture_digits),
                                   classifier=judge[0], reference=judge[1], per_class=0)
    assert "computed from the given real digits" in report.floor_source


def test_evaluation_round_trips_and_stats_must_match_the_classifier(judge, tmp_path):
    classifier, reference = judge
    figures = Evaluation.from_dict(reference.floor[10_000])
    assert Evaluation.from_dict(json.loads(json.dumps(figures.to_dict()))) == figures
    reference.save(tmp_path / "stats.npz")
    loaded = ReferenceStats.load(tmp_path / "stats.npz")
    np.testing.assert_array_equal(loaded.test_cov, reference.test_cov)
    assert loaded.floor == reference.floor
    with pytest.raises(ModelFileError, match="another classifier"):
        load_judge(classifier, dataclasses.replace(reference, classifier_sha256="0" * 64))
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelFileError, match="not valid reference statistics"):
        ReferenceStats.load(tmp_path / "bad.npz")
    with pytest.raises(ModelFileError, match="does not exist"):
        Classifier.load(tmp_path / "missing.onnx")


def test_eval_cli_writes_table_json_and_sheet(constant_onnx, tmp_path):
    out, sheet = tmp_path / "eval.json", tmp_path / "sheet.png"
    result = CliRunner().invoke(app, ["eval", "--model", str(constant_onnx), "--count", "100",
                                      "--json", str(out), "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "classifier-FID" in result.output and "real floor" in result.output
    data = json.loads(out.read_text())
    assert data["model"]["min_class_share"] == 0.0 and data["floor_count"] in (1000, 2000)
    assert sheet.read_bytes().startswith(b"\x89PNG")


def test_eval_cli_real_digits(tmp_path):
    result = CliRunner().invoke(app, ["eval", "--real", "test", "--data", str(FIXTURE_NPZ), "--count", "500"])
    assert result.exit_code == 0, result.output
    assert "MNIST test digits" in result.output and "precision, k=3" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "5"], "at least 20"),
        (["--real", "test"], "--real judges digits from --data"),
        (["--real", "test", "--data", str(FIXTURE_NPZ), "--count", "5000"], "exceeds the 1000"),
        (["--model", "missing.onnx"], "does not exist"),
        (["--json", "/no/such/folder/x.json"], "does not exist"),
    ],
)
def test_eval_cli_bad_input_is_one_line_exit_2(args, message):
    result = CliRunner().invoke(app, ["eval", "--model", str(TINY_ONNX), *args] if "--model" not in args and "--real" not in args
                                else ["eval", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_eval_works_where_tensorflow_cannot_be_imported(tmp_path):
    result = run_gantool_without_tensorflow(tmp_path, "eval", "--model", TINY_ONNX, "--count", 100,
                                            "--data", FIXTURE_NPZ)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "classifier-FID" in result.stdout


def test_shipped_assets_are_package_data():
    assert asset_path("classifier.onnx").is_file() and asset_path("classifier_stats.npz").is_file()


def _real(digits):
    from gantool.judge.evaluate import RealDigits

    return RealDigits(x_train=digits["x_train"], x_test=digits["x_test"])
