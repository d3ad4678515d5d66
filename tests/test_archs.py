"""The other GANs: MLP, conditional DCGAN and the quadratic toy, through the same commands and registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import GantoolError
from gantool.runtime.contract import ModelContract

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def quadratic_run(tmp_path_factory):
    """The quadratic toy trained with its default recipe (40 epochs of 200 steps; ~10 s)."""
    from gantool.train.recipes import recipe
    from gantool.train.trainer import train

    out = tmp_path_factory.mktemp("quadratic")
    train(recipe("quadratic").configs({"eval_every": 1, "eval_count": 2000})[-1], out, log=lambda *_: None)
    return out


def _tiny(arch, fixture_npz, tmp_path_factory):
    from gantool.train.recipes import recipe
    from gantool.train.trainer import train

    out = tmp_path_factory.mktemp(arch)
    config = recipe(arch).configs(dict(epochs=1, steps_per_epoch=2, batch_size=32, seed=3, ema_decay=0.9))[-1]
    train(config, out, data=str(fixture_npz), log=lambda *_: None)
    return out


@pytest.fixture(scope="module")
def cdcgan_run(fixture_npz, tmp_path_factory):
    return _tiny("cdcgan", fixture_npz, tmp_path_factory)


@pytest.fixture(scope="module")
def mlp_run(fixture_npz, tmp_path_factory):
    return _tiny("mlp", fixture_npz, tmp_path_factory)


@pytest.mark.slow
def test_quadratic_gan_converges_to_the_curve(quadratic_run):
    """The convergence test: after the default recipe the generated points lie on y = x^2 and span x."""
    best = json.loads((quadratic_run / "best.json").read_text())
    metrics = (quadratic_run / "metrics.csv").read_text().splitlines()
    first, last = metrics[1].split(","), metrics[-1].split(",")
    header = metrics[0].split(",")
    error = header.index("mean_abs_error")
    assert float(first[error]) > 0.03  # it starts off the curve...
    assert float(last[error]) <= 0.02  # ...and ends on it
    assert best["mean_abs_error"] <= 0.02 and best["coverage"] >= 0.7
    assert (quadratic_run / "progress.gif").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_quadratic_export_sample_eval(quadratic_run, tmp_path, fmt):
    if fmt == "tflite":
        pytest.importorskip("ai_edge_litert")
    model = tmp_path / f"q.{fmt}"
    result = invoke("export", "--format", fmt, "--model", quadratic_run, "--out", model)
    assert result.exit_code == 0, result.output
    result = invoke("sample", "--model", model, "--out", tmp_path / "points.png", "--npy", tmp_path / "p.npy",
                    "--count", 500)
    assert result.exit_code == 0, result.output
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (500, 2) and points.dtype == np.float32
    assert np.mean(np.abs(points[:, 1] - points[:, 0] ** 2)) <= 0.03
    from PIL import Image

    assert Image.open(tmp_path / "points.png").mode == "RGB"
    result = invoke("eval", "--model", model, "--count", 2000, "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["model"]["mean_abs_error"] <= 0.03
    refused = invoke("sample", "--model", model, "--out", tmp_path / "x.png", "--digit", 3)
    assert refused.exit_code == 2 and "not digits" in refused.output


def test_points_quality_figures():
    from gantool.runtime.points import quadratic_quality, real_points

    real = quadratic_quality(real_points(5000, np.random.default_rng(0)))
    assert real.mean_abs_error < 1e-6 and real.coverage == 1.0 and real.in_range == 1.0
    collapsed = quadratic_quality(np.tile([[0.2, 0.04]], (100, 1)))
    assert collapsed.mean_abs_error < 1e-6 and collapsed.coverage == pytest.approx(0.1)
    off = quadratic_quality(np.stack([np.linspace(-0.5, 0.5, 100), np.full(100, 0.5)], axis=1))
    assert off.mean_abs_error > 0.3


@pytest.mark.slow
def test_cdcgan_contract_export_and_digit_sampling(cdcgan_run, tmp_path):
    model = tmp_path / "c.onnx"
    result = invoke("export", "--format", "onnx", "--model", cdcgan_run, "--out", model)
    assert result.exit_code == 0, result.output
    from gantool.runtime.generator import Generator

    generator = Generator.load(model)
    assert generator.contract.num_classes == 10 and generator.contract.label_name == "label"
    inputs = {i.name: (i.type, i.shape) for i in generator.backend.session.get_inputs()}
    assert inputs == {"z": ("tensor(float)", ["batch", 100]), "label": ("tensor(int32)", ["batch"])}
    # The label changes the digit drawn from the same latent.
    z = generator.latents(4, seed=1)
    sevens = generator.generate(z, labels=np.full(4, 7))
    ones = generator.generate(z, labels=np.full(4, 1))
    assert np.abs(sevens - ones).max() > 1e-5
    result = invoke("sample", "--model", model, "--digit", 7, "--count", 8, "--npy", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    assert "label 7" in result.output
    stream = generator.sample(8, seed=0, labels=7)
    assert np.array_equal(np.load(tmp_path / "s.npy"), stream)
    result = invoke("sample", "--model", model, "--digits", "0-9", "--cols", 3, "--npy", tmp_path / "t.npy")
    assert result.exit_code == 0, result.output
    table = np.load(tmp_path / "t.npy")
    assert table.shape == (30, 28, 28, 1)
    assert np.array_equal(table, generator.sample(30, seed=0, labels=np.repeat(np.arange(10), 3)))
    for bad, message in ((["--digit", 10], "--digit must be in 0..9"), (["--digits", "3-1"], "--digits takes"),
                         (["--digit", 1, "--digits", "0-9"], "not both")):
        refused = invoke("sample", "--model", model, "--out", tmp_path / "x.png", *bad)
        assert refused.exit_code == 2 and message in refused.output, refused.output
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_cdcgan_eval_reports_class_accuracy(cdcgan_run, tmp_path):
    model = tmp_path / "c.onnx"
    assert invoke("export", "--format", "onnx", "--model", cdcgan_run, "--out", model).exit_code == 0
    result = invoke("eval", "--model", model, "--count", 200, "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert "agrees with the requested digit" in result.output
    report = json.loads((tmp_path / "e.json").read_text())["model"]
    assert 0.0 <= report["class_accuracy"] <= 1.0 and len(report["per_class_accuracy"]) == 10


@pytest.mark.slow
def test_cdcgan_tflite_carries_the_label_input(cdcgan_run, tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = tmp_path / "c.tflite"
    result = invoke("export", "--format", "tflite", "--model", cdcgan_run, "--out", model)
    assert result.exit_code == 0, result.output
    from gantool.runtime.generator import Generator

    onnx_path = tmp_path / "c.onnx"
    assert invoke("export", "--format", "onnx", "--model", cdcgan_run, "--out", onnx_path).exit_code == 0
    labels = np.arange(5) % 10
    a = Generator.load(model).sample_float(5, seed=2, labels=labels)
    b = Generator.load(onnx_path).sample_float(5, seed=2, labels=labels)
    assert np.abs(a - b).max() < 1e-4


@pytest.mark.slow
def test_mlp_trains_exports_and_samples(mlp_run, tmp_path):
    config = json.loads((mlp_run / "config.json").read_text())
    assert config["training"]["arch"] == "mlp" and config["training"]["lr"] == 2e-4
    model = tmp_path / "m.onnx"
    result = invoke("export", "--format", "onnx", "--model", mlp_run, "--out", model)
    assert result.exit_code == 0, result.output
    result = invoke("sample", "--model", model, "--out", tmp_path / "g.png", "--count", 16, "--cols", 4)
    assert result.exit_code == 0, result.output
    from gantool.runtime.generator import Generator

    assert Generator.load(model).contract.arch == "mlp"


def test_unconditional_digit_filters_with_the_classifier(tmp_path):
    """A digit model whose latent names no digit (the bundled model with its contract's digit code removed)."""
    import onnx

    from gantool.runtime.contract import METADATA_KEY, ModelContract
    from gantool.runtime.generator import default_model_path

    proto = onnx.load(default_model_path())
    props = {p.key: p.value for p in proto.metadata_props}
    props[METADATA_KEY] = ModelContract.from_json(props[METADATA_KEY]).replace(digit_code=0).to_json()
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    model = tmp_path / "no_code.onnx"
    onnx.save(proto, model)
    result = invoke("sample", "--model", model, "--digit", 7, "--count", 6, "--npy", tmp_path / "d.npy")
    assert result.exit_code == 0, result.output
    assert "filtered with the shipped classifier" in result.output
    from gantool.runtime.classifier import Classifier, to_classifier_input

    logits, _ = Classifier.load().run(to_classifier_input(np.load(tmp_path / "d.npy")))
    assert (np.argmax(logits, axis=1) == 7).all()


def test_a_model_whose_latent_names_its_digit_gets_latents_set_not_filtered(tmp_path):
    """The default recipe's models draw the digit their latent names: --digit permutes each latent's code
    so it names the digit (the same distribution as latents that happen to), no classifier involved."""
    import onnx

    from gantool.export.keras_to_onnx import attach_contract
    from gantool.runtime.contract import latents, name_digit
    from gantool.runtime.generator import Generator
    from gantool.train.recipes import recipe
    from gantool.train.run_dir import model_contract

    from .conftest import TINY_ONNX

    assert model_contract(recipe("default").configs()[-1]).digit_code == 10
    assert model_contract(recipe("tutorial").configs()[-1]).digit_code == 0
    z = latents(2000, 100, seed=4)
    named = name_digit(z, 7, 10)
    assert (named[:, :10].argmax(axis=1) == 7).all()
    np.testing.assert_array_equal(np.sort(named, axis=1), np.sort(z, axis=1))
    already = z[:, :10].argmax(axis=1) == 7
    assert 100 < already.sum() < 300
    np.testing.assert_array_equal(named[already], z[already])
    np.testing.assert_array_equal(named[~already, 10:], z[~already, 10:])

    proto = onnx.load(TINY_ONNX)
    coded = Generator.load(TINY_ONNX).contract.replace(digit_code=5)  # its latent is 8 long
    attach_contract(proto, coded)
    model = tmp_path / "coded.onnx"
    onnx.save(proto, model)
    generator = Generator.load(model)
    result = invoke("sample", "--model", model, "--digit", 3, "--count", 6, "--npy", tmp_path / "d.npy")
    assert result.exit_code == 0, result.output
    assert "latents set to name digit 3" in result.output and "filtered" not in result.output
    assert "the argmax of z[:, :5] names the digit drawn" in invoke("info", "--model", model).output
    judged = invoke("eval", "--model", model, "--count", 200, "--json", tmp_path / "e.json")
    assert judged.exit_code == 0 and "agrees with the digit each latent names" in judged.output, judged.output
    report = json.loads((tmp_path / "e.json").read_text())
    named_digits = latents(200, 8, 0)[:, :5].argmax(axis=1)
    assert report["asked"].startswith("the digit each latent names") and set(named_digits) == set(range(5))
    from gantool.runtime.classifier import Classifier, to_classifier_input

    logits, _ = Classifier.load().run(to_classifier_input(generator.generate(latents(200, 8, 0)), coded.value_range))
    agree = float(np.mean(logits.argmax(axis=1) == named_digits))
    assert report["model"]["class_accuracy"] == pytest.approx(agree, abs=1e-6)
    expected = coded.to_uint8(generator.generate(name_digit(latents(6, 8, 0), 3, 5)))
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), expected)
    result = invoke("sample", "--model", model, "--digits", "2,4", "--cols", 3, "--npy", tmp_path / "t.npy")
    assert result.exit_code == 0, result.output
    rows = [coded.to_uint8(generator.generate(name_digit(latents(3, 8, 0), d, 5))) for d in (2, 4)]
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), np.concatenate(rows))
    refused = invoke("sample", "--model", model, "--digit", 5, "--npy", tmp_path / "x.npy")
    assert refused.exit_code == 2 and "must be in 0..4" in refused.output
    with pytest.raises(Exception, match="digit_code must be 0"):
        coded.replace(digit_code=9)


def test_arch_and_dataset_choices_are_checked():
    from gantool.train.archs import resolve_arch

    assert resolve_arch(None, "quadratic").name == "quadratic"
    assert resolve_arch("cdcgan", None).num_classes == 10
    with pytest.raises(GantoolError, match="trains on mnist"):
        resolve_arch("mlp", "quadratic")
    with pytest.raises(GantoolError, match="unknown `arch`"):
        resolve_arch("vae", None)


def test_contract_generalizes_and_reads_old_files():
    points = ModelContract(latent_dim=5, output_shape=(2,), output_kind="points")
    assert ModelContract.from_json(points.to_json()) == points
    old = ModelContract.from_dict({"latent_dim": 100, "image_shape": [28, 28, 1]})
    assert old.output_shape == (28, 28, 1) and old.image_shape == (28, 28, 1) and not old.conditional
    with pytest.raises(GantoolError, match="output_shape"):
        ModelContract(latent_dim=5, output_shape=(28, 28, 1), output_kind="points")
    conditional = ModelContract(latent_dim=4, output_shape=(28, 28, 1), num_classes=10)
    assert conditional.default_labels(12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    with pytest.raises(GantoolError, match="labels must be in"):
        conditional.check_labels(np.array([10]), 1)
