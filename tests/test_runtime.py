"""The runtime alone: contract, latent convention, sampling, determinism, and no TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.errors import ContractError, GantoolError, ModelFileError
from gantool.runtime import Generator, ModelContract, latents
from gantool.runtime.images import make_grid, png_bytes

from .conftest import TINY_ONNX, run_gantool_without_tensorflow


def test_latent_convention_is_numpy_default_rng():
    z = latents(5, 100, seed=3)
    np.testing.assert_array_equal(z, np.random.default_rng(3).standard_normal((5, 100), dtype=np.float32))


def test_chunked_sampling_equals_one_draw():
    generator = Generator.load(TINY_ONNX)
    whole = generator.generate(generator.latents(37, seed=5))
    chunked = np.concatenate(list(generator.iter_batches(37, seed=5, batch_size=8)))
    np.testing.assert_array_equal(whole, chunked)
    np.testing.assert_array_equal(generator.sample(37, seed=5), generator.contract.to_uint8(whole))


def test_same_seed_same_png_bytes_other_seed_differs():
    generator = Generator.load(TINY_ONNX)
    first = png_bytes(make_grid(generator.sample(16, seed=3), cols=4))
    second = png_bytes(make_grid(Generator.load(TINY_ONNX).sample(16, seed=3), cols=4))
    other = png_bytes(make_grid(generator.sample(16, seed=4), cols=4))
    assert first == second and first != other


def test_contract_round_trip_and_validation():
    contract = ModelContract(latent_dim=100, output_shape=(28, 28, 1), training={"lr": 2e-4})
    assert ModelContract.from_json(contract.to_json()) == contract
    for bad in ('{"latent_dim": 0, "image_shape": [28, 28, 1]}', '{"latent_dim": 4}', "[1, 2]", "{not json",
                '{"latent_dim": 4, "image_shape": [28, 28, 1], "value_range": [1, -1]}'):
        with pytest.raises(ContractError):
            ModelContract.from_json(bad)
    with pytest.raises(ContractError, match="larger than"):
        ModelContract.from_json("x" * 2_000_000)


def test_to_uint8_maps_value_range_ends():
    contract = ModelContract(latent_dim=2, output_shape=(1, 3, 1))
    pixels = contract.to_uint8(np.array([[[[-1.0], [0.0], [1.5]]]], dtype=np.float32))
    assert pixels.ravel().tolist() == [0, 128, 255]


def test_model_file_errors(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "garbage.onnx").write_bytes(b"\x89PNG not a model")
    (tmp_path / "model.txt").write_text("hi")
    cases = {tmp_path / "missing.onnx": "does not exist", tmp_path: "folder", tmp_path / "empty.onnx": "empty",
             tmp_path / "garbage.onnx": "not a loadable", tmp_path / "model.txt": "not a runnable"}
    for path, message in cases.items():
        with pytest.raises(ModelFileError, match=message):
            Generator.load(path)


def test_resolve_model_names_and_folders(tmp_path):
    """One resolver behind every --model: bundled names, files, and folders only where asked for."""
    import shutil

    from gantool.runtime.generator import default_model_path, resolve_model

    assert resolve_model(None) == resolve_model("bundled") == default_model_path()
    assert resolve_model("bundled-int8") == default_model_path("bundled-int8")
    assert resolve_model(TINY_ONNX) == TINY_ONNX
    with pytest.raises(ModelFileError, match="neither a model file nor a bundled model; .* bundled or bundled-int8"):
        resolve_model("bundle")
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_model(tmp_path / "bundle")
    (tmp_path / "exports").mkdir()
    shutil.copy(TINY_ONNX, tmp_path / "exports" / "g.onnx")
    with pytest.raises(ModelFileError, match=r"is a folder; pass a model file in it: .*exports/g\.onnx$"):
        resolve_model(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="folder with no .onnx or .tflite model"):
        resolve_model(tmp_path / "empty")
    assert resolve_model(tmp_path, folders=True) == tmp_path


def test_onnx_without_contract_is_read_from_the_graph(tmp_path):
    """A generator graph without gantool metadata is sampled with the contract its shapes imply."""
    import onnx

    proto = onnx.load(TINY_ONNX)
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "bare.onnx")
    bare, original = Generator.load(tmp_path / "bare.onnx"), Generator.load(TINY_ONNX)
    assert bare.contract.arch == "unknown"
    assert (bare.contract.latent_dim, bare.contract.output_shape) == (original.contract.latent_dim, original.contract.output_shape)
    assert np.array_equal(bare.sample(4, seed=1), original.sample(4, seed=1))


def test_bad_counts():
    generator = Generator.load(TINY_ONNX)
    for count in (0, -5):
        with pytest.raises(GantoolError, match="positive"):
            generator.sample(count)
    with pytest.raises(GantoolError, match="exceeds"):
        generator.sample(10**9)


def test_runtime_works_where_tensorflow_cannot_be_imported(tmp_path):
    """sample and info with tensorflow, keras and tf2onnx unimportable (any import attempt fails the test)."""
    result = run_gantool_without_tensorflow(tmp_path, "sample", "--model", TINY_ONNX, "--out", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.png").stat().st_size > 0
    result = run_gantool_without_tensorflow(tmp_path, "info", "--model", TINY_ONNX)
    assert result.returncode == 0 and "latent" in result.stdout, result.stderr
