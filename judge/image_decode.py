"""Decoding your own images: the items of an indexed folder or ``.npz``, each as uint8 ``(size, size, channels)``.

:func:`open_source` reads every file's header once, :func:`decode_all` decodes every item (threads,
in item order). The preprocessing (EXIF orientation, alpha on white, shorter side to ``size`` with
Lanczos, centre crop) is described once, in :mod:`gantool.judge.images`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gantool.errors import DataError, first_line
from gantool.judge.image_index import HOW_TO_PASS, ImageIndex

RESAMPLE = Image.Resampling.LANCZOS
PREPROCESS = "exif orientation; alpha on white; 16-bit to 8; shorter side to N (Lanczos); centre crop; v1"
CHUNK = 256  # files decoded per batch of work: bounds the results waiting in memory


@dataclasses.dataclass
class ImageSource:
    """The decodable items of the data: ``decode(item, size, channels)`` gives an array or raises."""

    items: list
    labels: list | None
    sizes: list
    modes: list
    skipped: list[str]
    decode: Callable
    class_names: tuple[str, ...]


def open_source(index: ImageIndex) -> ImageSource:
    """The items of ``index``: a folder's files (headers read once) or an ``.npz``'s rows."""
    return _npz_source(index) if index.kind == "npz" else _folder_source(index)


def _folder_source(index: ImageIndex) -> ImageSource:
    """Open every file's header once (mode, size); files Pillow cannot identify are skipped here."""
    items, labels, sizes, modes, skipped = [], [], [], [], []
    for i, rel in enumerate(index.files):
        try:
            with Image.open(index.root / rel) as image:
                sizes.append(image.size)
                modes.append(image.mode)
        except Exception as exc:  # Pillow's plugins raise many types for a bad file
            skipped.append(f"{rel}: {_reason(exc)}")
            continue
        items.append(rel)
        labels.append(index.labels[i] if index.labels is not None else None)

    def decode(rel, size, channels):
        with Image.open(index.root / rel) as image:
            _draft(image, size)
            return _prepare(ImageOps.exif_transpose(image), size, channels)

    return ImageSource(items, labels if index.labels is not None else None, sizes, modes, skipped, decode,
                       index.class_names)


def _npz_source(index: ImageIndex) -> ImageSource:
    from gantool.judge import mnist

    path = index.root / index.files[0]
    if not zipfile.is_zipfile(path):
        raise DataError(f"`data` {path} is not a readable .npz (empty, truncated or another kind of file); {HOW_TO_PASS}")
    with zipfile.ZipFile(path) as archive:
        names = {name.removesuffix(".npy") for name in archive.namelist()}
    if "x" in names:
        x, y = _read_xy(path, "y" in names)
    elif names.issuperset(mnist.NPZ_KEYS):
        digits = mnist.validate(mnist.read_npz(path), str(path))
        x, y = digits.x_train, digits.y_train
    else:
        raise DataError(f"`data` {path} holds neither an array 'x' nor a Keras mnist.npz's {', '.join(mnist.NPZ_KEYS)}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dtype != np.uint8 or not (x.ndim == 3 or x.ndim == 4 and x.shape[-1] == 3) or 0 in x.shape:
        raise DataError(f"`data` {path}: 'x' must be uint8 (n, h, w) or (n, h, w, 1|3), got {x.dtype} {x.shape}")
    if y is not None and (y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise DataError(f"`data` {path}: 'y' must hold {len(x)} integer labels >= 0, got {y.dtype} {y.shape}")
    height, width = x.shape[1:3]

    def decode(i, size, channels):
        if (height, width, channels) == (size, size, 1 if x.ndim == 3 else 3):
            return x[i].reshape(size, size, channels)
        return _prepare(Image.fromarray(x[i]), size, channels)

    class_names = tuple(str(c) for c in range(int(y.max()) + 1)) if y is not None else ()
    return ImageSource(list(range(len(x))), None if y is None else y.tolist(), [(width, height)] * len(x),
                       ["L" if x.ndim == 3 else "RGB"] * len(x), [], decode, class_names)


def _read_xy(path: Path, with_y: bool) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz["x"], npz["y"] if with_y else None
    except ValueError as exc:
        raise DataError(f"`data` {path} holds an array gantool will not load ({first_line(exc, 120)}); "
                        "save 'x' as a plain uint8 array") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"`data` {path} is not a readable .npz ({type(exc).__name__}); {HOW_TO_PASS}") from None


def _draft(image: Image.Image, size: int) -> None:
    """Let a JPEG decode at a reduced scale that still leaves twice the pixels needed (no-op for others)."""
    width, height = image.size
    if min(width, height) > 2 * size:
        scale = 2 * size / min(width, height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))


def _prepare(image: Image.Image, size: int, channels: int) -> np.ndarray:
    """One image as uint8 ``(size, size, channels)``: mode, then shorter side to ``size``, then the centre square."""
    if image.mode == "F" or image.mode.startswith("I"):
        wide = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(np.rint(wide if image.mode == "F" else wide / 257.0), 0, 255).astype(np.uint8))
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    width, height = image.size
    if (width, height) != (size, size):
        # torchvision's Resize(size): the shorter side becomes size, the longer one rounded down.
        longer = int(size * max(width, height) / min(width, height))
        new = (size, longer) if width <= height else (longer, size)
        image = image.resize(new, RESAMPLE)
        left, top = int(round((new[0] - size) / 2.0)), int(round((new[1] - size) / 2.0))
        image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8).reshape(size, size, channels)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image Pillow can read"
    return f"{type(exc).__name__}: {first_line(exc, 80)}"


def decode_all(source: ImageSource, size: int, channels: int, workers: int):
    """Each item's array (or the reason it failed), in item order whatever ``workers`` is."""
    def one(item):
        try:
            return source.decode(item, size, channels)
        except Exception as exc:  # a truncated or corrupt file: skipped and named, not fatal
            return _reason(exc)

    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(source.items), CHUNK):
            yield from pool.map(one, source.items[start:start + CHUNK])
