"""Golden outputs of the bundled model (made only by scripts/make_goldens.py; see tests/golden/manifest.json).

A drift fails loudly with a diff summary: max |Δ|, where, and the mean.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gantool.runtime import Generator, latents
from gantool.runtime.generator import default_model_path
from gantool.runtime.images import make_grid, png_bytes

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
FP32_BOUND = 1e-5
# TensorFlow's own float32 error on these weights: measured up to 1.2e-5 from the float64 value on a
# model of the default recipe at batch 64 (oneDNN on; see export/validate.py).
TF_FLOAT32_BOUND = 3e-5


def assert_close(actual: np.ndarray, expected: np.ndarray, bound: float, what: str) -> None:
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    worst = np.unravel_index(int(diff.argmax()), diff.shape)
    assert diff.max() <= bound, (
        f"{what} drifted from the goldens: max |Δ| {diff.max():.3g} at index {tuple(int(i) for i in worst)} "
        f"(got {actual[worst]:.6f}, expected {expected[worst]:.6f}); mean |Δ| {diff.mean():.3g}; bound {bound:g}. "
        "If the change is intended, rerun scripts/make_goldens.py and commit the result."
    )


def test_goldens_belong_to_the_bundled_model():
    digest = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert digest == MANIFEST["model_sha256"], "the bundled model changed; rerun scripts/make_goldens.py"


def test_latents_follow_the_convention():
    z = np.load(GOLDEN / "latents.npy", allow_pickle=False)
    np.testing.assert_array_equal(z, latents(MANIFEST["count"], z.shape[1], MANIFEST["seed"]))


def test_runtime_reproduces_keras_goldens():
    z = np.load(GOLDEN / "latents.npy", allow_pickle=False)
    expected = np.load(GOLDEN / "expected.npy", allow_pickle=False)
    assert_close(Generator.load().generate(z), expected, FP32_BOUND, "bundled ONNX (onnxruntime fp32)")


def test_png_grid_is_byte_identical():
    images = Generator.load().sample(MANIFEST["count"], MANIFEST["seed"])
    assert png_bytes(make_grid(images, cols=MANIFEST["cols"])) == (GOLDEN / "expected_grid.png").read_bytes()


def test_a_perturbation_of_1e4_is_caught():
    expected = np.load(GOLDEN / "expected.npy", allow_pickle=False)
    perturbed = expected.copy()
    perturbed[3, 10, 12, 0] += 1e-4
    with pytest.raises(AssertionError, match=r"max \|Δ\| 0.0001 at index \(3, 10, 12, 0\)"):
        assert_close(perturbed, expected, FP32_BOUND, "perturbed")


@pytest.mark.slow
def test_keras_source_matches_goldens():
    keras = pytest.importorskip("keras")
    model = keras.saving.load_model(GOLDEN / "generator.keras", safe_mode=True, compile=False)
    assert hashlib.sha256((GOLDEN / "generator.keras").read_bytes()).hexdigest() == MANIFEST["keras_sha256"]
    from gantool.export.validate import reference_outputs

    z = np.load(GOLDEN / "latents.npy", allow_pickle=False)
    expected = np.load(GOLDEN / "expected.npy", allow_pickle=False)
    assert_close(reference_outputs(model, z), expected, FP32_BOUND, "Keras source (float64)")
    # TensorFlow's float32 kernels carry their own error (export/validate.py): bounded, not 1e-5.
    assert_close(np.asarray(model(z, training=False)), expected, TF_FLOAT32_BOUND, "Keras source run by TF in float32")


def test_bundled_int8_within_its_registry_bound():
    from gantool.export.registry import lookup

    int8_path = default_model_path().with_name("default_int8.onnx")
    assert int8_path.exists() == (MANIFEST["int8_model"] is not None)
    if MANIFEST["int8_model"] is None:
        return
    tolerance = lookup("onnx", "int8").tolerance
    z = np.load(GOLDEN / "latents.npy", allow_pickle=False)
    expected = np.load(GOLDEN / "expected.npy", allow_pickle=False)
    got = Generator.load(int8_path).generate(z)
    assert_close(got, expected, tolerance.max_abs, "bundled ONNX int8")
    assert np.abs(got - expected).mean() <= tolerance.mean_abs


def test_bundled_names_open_the_shipped_files(tmp_path):
    from typer.testing import CliRunner

    from gantool.cli import app

    assert Generator.load("bundled").path == default_model_path()
    assert MANIFEST["int8_model"] == "default_int8.onnx"
    assert Generator.load("bundled-int8").contract.quantization == "int8"
    result = CliRunner().invoke(app, ["sample", "--model", "bundled-int8", "--count", "4", "--cols", "2", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").stat().st_size > 0


def test_info_names_the_graph_kind_and_how_it_was_chosen():
    """``gantool info`` says which graph an ONNX file holds and, for the bundled one, the candidates it was chosen from."""
    from typer.testing import CliRunner

    from gantool.cli import app
    from gantool.runtime import Generator
    from gantool.runtime.describe import graph_choice, graph_kind

    backend = Generator.load("bundled").backend
    choice = graph_choice(backend)
    assert choice is not None and choice["chosen"] == graph_kind(backend)
    assert "plain" in {c["kind"] for c in choice["candidates"]}
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert [line.split()[1] for line in result.output.splitlines() if line.startswith("graph")] == [choice["chosen"]]
    assert "* " + choice["chosen"] + ": chosen" in result.output
