"""MNIST loading: npz and IDX folders, the search order, and one-line errors for bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from gantool.errors import DataError
from gantool.judge import mnist


def _write_idx(path, array: np.ndarray, magic: int, gz: bool = False) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    blob = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(blob) if gz else blob)


def _idx_folder(tmp_path, fixture_npz, gz: bool):
    with np.load(fixture_npz) as npz:
        arrays = {k: npz[k] for k in mnist.NPZ_KEYS}
    for key, stem in mnist.IDX_NAMES.items():
        magic = mnist.IMAGE_MAGIC if key.startswith("x") else mnist.LABEL_MAGIC
        _write_idx(tmp_path / (stem + (".gz" if gz else "")), arrays[key], magic, gz)
    return arrays


def test_npz_loads_and_validates(fixture_npz):
    data = mnist.load_mnist(fixture_npz)
    assert data.x_train.shape == (2000, 28, 28) and data.x_train.dtype == np.uint8
    assert data.y_test.shape == (1000,) and set(np.unique(data.y_test)) == set(range(10))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_matches_npz(tmp_path, fixture_npz, gz):
    arrays = _idx_folder(tmp_path, fixture_npz, gz)
    data = mnist.load_mnist(tmp_path)
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])


def test_idx_bad_magic_and_length(tmp_path):
    with pytest.raises(DataError, match="bad magic"):
        mnist.parse_idx(b"\x00\x00\x09\x99" + b"\x00" * 12, "f")
    good = (mnist.LABEL_MAGIC).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(4)
    with pytest.raises(DataError, match="header says"):
        mnist.parse_idx(good, "f")
    with pytest.raises(DataError, match="truncated"):
        mnist.parse_idx(b"\x00\x00", "f")


def test_search_order_env_then_cache(tmp_path, monkeypatch, fixture_npz):
    monkeypatch.setenv(mnist.ENV_VAR, str(fixture_npz))
    assert mnist.resolve_source(None) == fixture_npz
    assert mnist.resolve_source(fixture_npz) == fixture_npz
    monkeypatch.delenv(mnist.ENV_VAR)
    monkeypatch.setattr(mnist, "KERAS_CACHE", tmp_path / "nothing.npz")
    assert mnist.resolve_source(None) is None
    cache = tmp_path / "mnist.npz"
    cache.write_bytes(fixture_npz.read_bytes())
    monkeypatch.setattr(mnist, "KERAS_CACHE", cache)
    assert mnist.resolve_source(None) == cache


def test_missing_path_says_how_to_pass_data(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="`data`"):
        mnist.load_mnist(tmp_path / "missing.npz")
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataError, match="GANTOOL_DATA"):
        mnist.load_mnist(None)


def test_offline_without_data_explains(monkeypatch, tmp_path):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(mnist, "KERAS_CACHE", tmp_path / "none.npz")

    def offline():
        raise DataError("no local MNIST found and the download failed (URLError); " + mnist.HOW_TO_PASS)

    monkeypatch.setattr(mnist, "_download_with_keras", offline)
    with pytest.raises(DataError, match="pass `data`"):
        mnist.load_mnist(None)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((4, 28, 28), np.float32)}, "uint8"),
        ({"x_train": np.zeros((4, 32, 32), np.uint8)}, "uint8"),
        ({"y_train": np.full(2000, 11, np.uint8)}, "labels 0..9"),
        ({"y_test": np.zeros(3, np.uint8)}, "labels"),
    ],
)
def test_wrong_shapes_dtypes_labels(tmp_path, fixture_npz, arrays, message):
    with np.load(fixture_npz) as npz:
        data = {k: npz[k] for k in mnist.NPZ_KEYS}
    data.update(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(DataError, match=message):
        mnist.load_mnist(path)


def test_truncated_foreign_and_incomplete_files(tmp_path, fixture_npz):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(fixture_npz.read_bytes()[:1000])
    text = tmp_path / "text.npz"
    text.write_text("hello")
    missing = tmp_path / "missing_keys.npz"
    np.savez(missing, x_train=np.zeros((1, 28, 28), np.uint8))
    for path, message in ((truncated, "not a readable"), (text, "not a readable"), (missing, "missing")):
        with pytest.raises(DataError, match=message):
            mnist.load_mnist(path)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DataError):
        mnist.load_mnist(path)
