"""Reading your own images: a folder (or an ``.npz``) indexed and decoded into uint8 arrays. Numpy and Pillow only.

Training (:mod:`gantool.train.images`, which caches the decoded images and feeds tf.data from the
cache), ``gantool train-classifier --data DIR`` and ``gantool eval --data DIR`` (a base-install
command) all read data through this module, so every one of them sees the same pixels.

- :func:`index_images` lists a folder's images (or names an ``.npz``) and fingerprints the list;
- :func:`open_source` opens their headers, :func:`settle` decides size and channels, :func:`decode_all`
  decodes them (the pieces the training cache is built from);
- :func:`read_images` does all of that in memory and returns :class:`DecodedImages` (how
  :mod:`gantool.judge.real` reads them for ``eval`` and ``train-classifier``).

**What counts as data.** A folder: every file whose extension Pillow opens (:func:`image_extensions`),
decoded to be sure; names starting with a dot are not looked at, so a cache kept inside the folder is
not read as data; symbolic links to folders are not followed. Its immediate sub-folders that hold
images are the classes (PyTorch's ImageFolder): names sorted, label = position, images at any depth
below; files directly in the folder are then ignored, as ImageFolder ignores them, and the summary
says so. A folder with no such sub-folder is unlabeled. An ``.npz``: array ``x`` uint8 ``(n, h, w)``
or ``(n, h, w, 1|3)`` with optional ``y`` ``(n,)`` labels >= 0, or a Keras ``mnist.npz`` (its
training split, read by :mod:`gantool.judge.mnist`).

**Preprocessing**, as PyTorch's examples/dcgan: the shorter side resized to ``image_size``, then the
centre ``image_size`` square cut out. The filter is Lanczos (StyleGAN2-ADA's ``dataset_tool.py``
choice): Pillow widens it by the reduction factor, so a photo shrunk 50x is averaged, not aliased,
and it keeps edges sharper than the example's bilinear. A JPEG much larger than needed is decoded
at a reduced scale first (libjpeg's DCT scaling, never below twice the target). Before that: EXIF
orientation applied (what viewers show), transparency composited on white (transparent pixels hold
arbitrary colours; a logo's background is meant to be blank), CMYK and palettes converted to RGB,
16-bit grey scaled to 8 bits. ``channels``: 3 when any image is not greyscale by its mode, else 1;
forced to 1 (ITU-R 601 luma) or 3 (grey copied) when given. ``image_size``: the data's own when
every image is square and of one size, else :data:`DEFAULT_IMAGE_SIZE`. An animated file gives its
first frame.

Example::

    data = read_images("photos/", image_size=32)
    data.images.shape, data.class_names     # (n, 32, 32, 3), ('cats', 'dogs')
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import math
import numbers
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from gantool.errors import DataError, GantoolError, first_line

DEFAULT_IMAGE_SIZE = 64
RESAMPLE = Image.Resampling.LANCZOS
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
PREPROCESS = "exif orientation; alpha on white; 16-bit to 8; shorter side to N (Lanczos); centre crop; v1"
HOW_TO_PASS = ("pass `data`: a folder of images (PNG, JPEG, BMP, WebP, GIF, ...), one sub-folder per class "
               "if labelled, or an .npz with a uint8 array 'x'")
CHUNK = 256  # files decoded per batch of work: bounds the results waiting in memory

Progress = Callable[[int, int], None]


@functools.cache
def image_extensions() -> frozenset[str]:
    """Lower-case suffixes (``.png``) of the formats Pillow can open, from its registry."""
    return frozenset(ext for ext, kind in Image.registered_extensions().items() if kind in Image.OPEN)


@dataclasses.dataclass(frozen=True)
class ImageIndex:
    """What :func:`index_images` found.

    Args:
        root: the folder (for an ``.npz``: the folder holding it).
        kind: ``folder`` or ``npz``.
        files: image paths relative to ``root`` (POSIX form), by class then path; the ``.npz``'s name.
        labels: one class index per file; None when unlabeled (an ``.npz`` keeps its labels inside).
        class_names: the class folders' names, sorted (empty when unlabeled).
        ignored: relative paths not used: files beside class folders, files without an image extension.
        fingerprint: sha256 of the files' relative paths, sizes and modification times.
    """

    root: Path
    kind: str
    files: tuple[str, ...]
    labels: tuple[int, ...] | None
    class_names: tuple[str, ...]
    ignored: tuple[str, ...]
    fingerprint: str

    @property
    def where(self) -> Path:
        """The data as the user named it: the folder, or the ``.npz`` file."""
        return self.root / self.files[0] if self.kind == "npz" else self.root


def index_images(data: str | os.PathLike[str]) -> ImageIndex:
    """Index the images of folder ``data`` (recursively) or name the ``.npz`` it is; nothing is decoded.

    Raises:
        DataError: ``data`` does not exist, is another kind of file, or is a folder without any file
            with an image extension.
    """
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"`data` {path} does not exist; {HOW_TO_PASS}")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"`data` {path} is a file but not an .npz; {HOW_TO_PASS}")
        return ImageIndex(path.parent, "npz", (path.name,), None, (), (), _fingerprint(path.parent, [path.name]))
    root_images, root_others = _files_in(path, path, recursive=False)
    classes = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images, others = _files_in(folder, path, recursive=True)
        root_others += others
        if images:
            classes[folder.name] = images
    if classes:
        files = [rel for images in classes.values() for rel in images]
        labels = tuple(label for label, images in enumerate(classes.values()) for _ in images)
        ignored = root_images + root_others
    else:
        files, labels, ignored = root_images, None, root_others
    if not files:
        raise DataError(f"`data` {path} holds no file with an image extension; {HOW_TO_PASS}")
    return ImageIndex(path, "folder", tuple(files), labels, tuple(classes), tuple(sorted(ignored)),
                      _fingerprint(path, files))


def _files_in(folder: Path, root: Path, recursive: bool) -> tuple[list[str], list[str]]:
    """(image files, other files) under ``folder`` as sorted POSIX paths relative to ``root``; hidden names skipped."""
    images, others = [], []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in names:
            if not name.startswith("."):
                rel = (Path(current) / name).relative_to(root).as_posix()
                (images if Path(name).suffix.lower() in image_extensions() else others).append(rel)
    return sorted(images), sorted(others)


def _fingerprint(root: Path, files) -> str:
    digest = hashlib.sha256()
    for rel in files:
        stat = (root / rel).stat()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def check_settings(image_size: int | None, channels: int | None) -> None:
    """Refuse an ``image_size`` below 1 or ``channels`` other than 1 or 3 (None: decided by the data)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral)
                                   or image_size < 1):
        raise GantoolError(f"`image_size` must be a whole number of pixels >= 1, got {image_size!r}")
    if channels is not None and channels not in (1, 3):
        raise GantoolError(f"`channels` must be 1 (greyscale) or 3 (colour), got {channels!r}")


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


def listed(entries, limit: int = 5) -> str:
    """Up to ``limit`` entries joined by ``; ``, then how many there are in all ("none" when empty)."""
    more = f", ... ({len(entries)} in all)" if len(entries) > limit else ""
    return "; ".join(entries[:limit]) + more if entries else "none"


@dataclasses.dataclass(frozen=True)
class Settled:
    """Size and channels the images will be decoded to, the data's own, and what the user should know."""

    image_size: int
    channels: int
    data_image_size: int
    data_channels: int
    summary: tuple[str, ...]


def settle(index: ImageIndex, source: ImageSource, image_size: int | None, channels: int | None) -> Settled:
    """Decide size and channels (given ones win, else the data's own) and describe what decoding will do.

    Raises:
        DataError: no item of ``source`` could even be opened.
    """
    if not source.items:
        raise DataError(f"`data` {index.root} holds no readable image ({listed(source.skipped)}); {HOW_TO_PASS}")
    sizes, modes = collections.Counter(source.sizes), collections.Counter(source.modes)
    own = next(iter(sizes))
    data_size = own[0] if len(sizes) == 1 and own[0] == own[1] else DEFAULT_IMAGE_SIZE
    data_channels = 3 if any(mode not in GREY_MODES for mode in modes) else 1
    size, chans = image_size or data_size, channels or data_channels
    lines = []
    if len(sizes) > 1 or next(iter(sizes)) != (size, size):
        common = ", ".join(f"{w}x{h} x{n}" for (w, h), n in sizes.most_common(3))
        lines.append(f"{len(sizes)} image size(s) ({common}{', ...' if len(sizes) > 3 else ''}): shorter side "
                     f"resized to {size} (Lanczos), centre {size}x{size} kept")
    if len(modes) > 1 or chans != (1 if next(iter(modes)) in GREY_MODES else 3):
        kinds = ", ".join(f"{mode} x{n}" for mode, n in modes.most_common())
        lines.append(f"image modes {kinds}: all made {'greyscale' if chans == 1 else 'RGB'} "
                     "(transparency composited on white)")
    beside = [rel for rel in index.ignored if "/" not in rel and Path(rel).suffix.lower() in image_extensions()]
    if index.class_names and beside:
        lines.append(f"{len(beside)} image(s) directly in {index.root} ignored: with class folders only the images "
                     f"inside them count (PyTorch ImageFolder): {listed(beside)}")
    others = [rel for rel in index.ignored if rel not in beside]
    if others:
        lines.append(f"{len(others)} file(s) without an image extension ignored: {listed(others)}")
    return Settled(size, chans, data_size, data_channels, tuple(lines))


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


def result_summary(index: ImageIndex, source: ImageSource, count: int, size: int, channels: int,
                   summary, skipped: list[str]) -> list[str]:
    """The lines to log once decoding is done: what was read, then ``summary``, then the files skipped."""
    classes = (f"{len(source.class_names)} classes ({', '.join(source.class_names)})" if source.class_names
               else "unlabeled")
    lines = [f"{count} images from {index.where}, {classes}, as {size}x{size}x{channels}", *summary]
    if skipped:
        lines.append(f"{len(skipped)} file(s) skipped, not readable: {listed(sorted(skipped))}")
    return lines


def content_sha256(images: np.ndarray, labels: np.ndarray | None) -> str:
    """sha256 of decoded images and labels: the pixels, the shape, the labels (int32 little-endian).

    The training cache's ``content_sha256`` is this same digest, computed image by image.
    """
    count, size, _, channels = images.shape
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(f"{count}x{size}x{size}x{channels}".encode())
    if labels is not None:
        digest.update(np.asarray(labels).astype("<i4").tobytes())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class DecodedImages:
    """Images decoded into memory by :func:`read_images`.

    Args:
        images: uint8 ``(n, image_size, image_size, channels)``.
        labels: int32 ``(n,)`` class indices, or None (unlabeled).
        class_names: one name per class; empty when unlabeled.
        fingerprint: :attr:`ImageIndex.fingerprint` of the source.
        content_sha256: :func:`content_sha256` of images and labels (survives copying the folder).
        source: the folder or ``.npz`` read.
        summary: lines to log once (as the training cache's).
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    fingerprint: str
    content_sha256: str
    source: Path
    summary: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def read_images(data: str | os.PathLike[str], image_size: int | None = None, channels: int | None = None,
                workers: int | None = None) -> DecodedImages:
    """Decode the images of ``data`` (a folder or an ``.npz``, see the module docstring) into memory.

    Args:
        data: the folder or ``.npz``.
        image_size, channels: as :func:`gantool.train.images.load_images` takes them (None: the data's own).
        workers: decoding threads; None: up to 4. Any number gives the same bytes.

    Raises:
        GantoolError: a bad ``image_size`` or ``channels``.
        DataError: ``data`` is missing, empty or holds no readable image.
    """
    check_settings(image_size, channels)
    index = index_images(data)
    source = open_source(index)
    settled = settle(index, source, None if image_size is None else int(image_size), channels)
    size, chans = settled.image_size, settled.channels
    rows, kept, skipped = [], [], list(source.skipped)
    for i, result in enumerate(decode_all(source, size, chans, workers or min(4, os.cpu_count() or 1))):
        if isinstance(result, np.ndarray):
            rows.append(result)
            kept.append(i)
        else:
            skipped.append(f"{source.items[i]}: {result}")
    if not rows:
        raise DataError(f"`data` {index.root} holds no readable image ({listed(skipped)}); {HOW_TO_PASS}")
    images = np.stack(rows)
    labels = None if source.labels is None else np.asarray([source.labels[i] for i in kept], np.int32)
    summary = result_summary(index, source, len(kept), size, chans, settled.summary, skipped)
    return DecodedImages(images, labels, source.class_names, index.fingerprint, content_sha256(images, labels),
                         index.where, tuple(summary))
