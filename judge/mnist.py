"""Find, read and validate MNIST (Keras ``mnist.npz`` or the four IDX files).

Pure numpy: no TensorFlow, no pickle. Search order for the data:
``--data PATH``, the ``GANTOOL_DATA`` environment variable, Keras' cache
(``~/.keras/datasets/mnist.npz``), then Keras' own download.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from gantool.errors import DataError

ENV_VAR = "GANTOOL_DATA"
KERAS_CACHE = Path("~/.keras/datasets/mnist.npz")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801
HOW_TO_PASS = (
    "pass `data`: the path of a Keras mnist.npz or a folder with the four MNIST IDX files, "
    f"or set {ENV_VAR}=PATH"
)


@dataclasses.dataclass(frozen=True)
class Mnist:
    """MNIST arrays: uint8 images ``(n, 28, 28)`` and uint8 labels ``(n,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def resolve_source(data: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the path to read MNIST from, or None when only Keras' download is left."""
    if data is not None:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(f"`data` {path} does not exist; {HOW_TO_PASS}")
        return path
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise DataError(f"{ENV_VAR}={env} does not exist; {HOW_TO_PASS}")
        return path
    cache = KERAS_CACHE.expanduser()
    return cache if cache.exists() else None


def load_mnist(data: str | os.PathLike[str] | None = None) -> Mnist:
    """Load and validate MNIST from the first source that exists (see module docstring)."""
    source = resolve_source(data)
    if source is None:
        return _download_with_keras()
    arrays = read_idx_folder(source) if source.is_dir() else read_npz(source)
    return validate(arrays, str(source))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read a Keras-format ``mnist.npz`` without pickle."""
    if not zipfile.is_zipfile(path):
        # numpy would call any non-zip file "pickled data" and suggest allow_pickle=True: never that.
        raise DataError(f"{path} is not a readable mnist.npz (not an .npz archive: empty, truncated or another "
                        f"kind of file); {HOW_TO_PASS}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in NPZ_KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path} is missing {', '.join(missing)}; expected a Keras mnist.npz with {', '.join(NPZ_KEYS)}")
            return {key: npz[key] for key in NPZ_KEYS}
    except DataError:
        raise
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise DataError(f"{path} is not a readable mnist.npz ({type(exc).__name__}: {str(exc)[:120]}); {HOW_TO_PASS}") from None
        raise DataError(f"{path} holds a pickled object array, which gantool will not load (unpickling can run code); "
                        "MNIST is plain uint8 arrays") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path} is not a readable mnist.npz ({type(exc).__name__}: {str(exc)[:120]}); {HOW_TO_PASS}") from None


def parse_idx(blob: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse one IDX file (unsigned-byte data) from its bytes, checking magic and lengths."""
    if len(blob) < 8:
        raise DataError(f"{name} is truncated ({len(blob)} bytes); re-download the MNIST IDX files")
    magic = int.from_bytes(blob[:4], "big")
    if magic not in (IMAGE_MAGIC, LABEL_MAGIC):
        raise DataError(f"{name} has bad magic number 0x{magic:08x}; expected an MNIST IDX file (0x801 or 0x803)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{name} is truncated in its header; re-download it")
    dims = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(blob) - header != expected:
        raise DataError(
            f"{name} holds {len(blob) - header} bytes of data but its header says {dims} ({expected}); the file is truncated or corrupt"
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read the four standard IDX files (gzipped or not) from ``folder``."""
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [folder / f"{stem}{ext}" for ext in ("", ".gz")]
        candidates += [folder / f"{stem.replace('-idx', '.idx')}{ext}" for ext in ("", ".gz")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"{folder} has no {stem}[.gz]; {HOW_TO_PASS}")
        try:
            raw = gzip.decompress(found.read_bytes()) if found.suffix == ".gz" else found.read_bytes()
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"{found} cannot be decompressed ({exc}); re-download it") from None
        arrays[key] = parse_idx(raw, str(found))
    return arrays


def validate(arrays: dict[str, np.ndarray], source: str) -> Mnist:
    """Check shapes, dtypes and labels; raise a one-line DataError otherwise."""
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{source}: x_{split} must be uint8 (n, 28, 28), got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{source}: y_{split} must be ({images.shape[0]},) labels, got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer) or labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{source}: y_{split} must hold integer labels 0..9")
        if images.shape[0] == 0:
            raise DataError(f"{source}: x_{split} is empty")
    return Mnist(
        x_train=arrays["x_train"], y_train=arrays["y_train"].astype(np.uint8),
        x_test=arrays["x_test"], y_test=arrays["y_test"].astype(np.uint8), source=source,
    )


def _download_with_keras() -> Mnist:
    """Last resort for real users: Keras' own download into its cache."""
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # network errors come in many types
        raise DataError(f"no local MNIST found and the download failed ({type(exc).__name__}); {HOW_TO_PASS}") from None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return validate(arrays, "keras download")
