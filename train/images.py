"""Your own images as training data: a folder (or an ``.npz``) decoded once into a uint8 cache, fed to tf.data.

The pieces ``gantool train --data DIR`` is made of; none of them reads a config:

- :func:`index_images` lists a folder's images (or names an ``.npz``) and fingerprints the list;
- :func:`load_images` decodes them once into ``cache_dir``, or reuses the cache that matches, and
  returns an :class:`ImageCache`: uint8 ``(n, size, size, channels)`` memory-mapped, labels, class
  names, the files it skipped and the summary lines the caller logs once;
- :func:`scale_images` maps a uint8 batch into the model's value range (float32);
- :func:`images_dataset` / :func:`images_training_dataset`: one epoch / several epochs of batches
  from the cache, shuffled by ``(seed, epoch)`` exactly as :mod:`gantool.train.data` shuffles MNIST
  and scaled batch by batch, so no float32 copy of the data is ever held.
  :func:`gantool.train.data.steps_per_epoch` counts their batches.

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

**The cache** in ``cache_dir``: ``images_{s}x{s}x{c}.npy`` (uint8), ``..._labels.npy`` (int32) and
``....json``, the sidecar that commits the pair: deleted first, written last, every file through a
temporary and ``os.replace``. A cache is reused when its sidecar's ``fingerprint``, preprocessing
and resolved settings match. The fingerprint is the sha256 of the sorted relative paths with each
file's size and modification time (ns): a file edited in place at the same size (a BMP does that)
still changes it; copying the folder without keeping times only costs a rebuild. For ``--resume``,
``content_sha256`` (the decoded pixels and labels) is the check that survives such a copy.

Example::

    cache = load_images("photos/", "run/data", image_size=64, progress=lambda done, total: ...)
    for line in cache.summary:
        log(line)
    dataset = images_training_dataset(cache.images, seed=0, batch_size=128, first_epoch=0, last_epoch=5,
                                      labels=cache.labels)
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
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
from gantool.runtime.contract import ASSUMED_VALUE_RANGE
from gantool.runtime.files import atomic_path, write_bytes_atomic

DEFAULT_IMAGE_SIZE = 64
RESAMPLE = Image.Resampling.LANCZOS
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
PREPROCESS = "exif orientation; alpha on white; 16-bit to 8; shorter side to N (Lanczos); centre crop; v1"
CACHE_FORMAT = 1
HOW_TO_PASS = ("pass `data`: a folder of images (PNG, JPEG, BMP, WebP, GIF, ...), one sub-folder per class "
               "if labelled, or an .npz with a uint8 array 'x'")
CHUNK = 256  # files decoded per batch of work: bounds the results waiting in memory

Progress = Callable[[int, int], None]
Check = Callable[[int, int, tuple[str, ...]], None]


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


@dataclasses.dataclass(frozen=True)
class ImageCache:
    """Decoded images, ready to train on.

    Args:
        images: uint8 ``(n, image_size, image_size, channels)``, a read-only memory map of ``path``.
        labels: int32 ``(n,)`` class indices, or None.
        class_names: one name per class (``"0"``..``"9"`` for MNIST).
        image_size, channels: the settings the images were made with.
        fingerprint: :attr:`ImageIndex.fingerprint` of the source.
        content_sha256: sha256 of the decoded pixels, shape and labels.
        skipped: ``"relative/path: reason"`` of every file that could not be decoded.
        summary: lines to log once (classes, mixed sizes or modes, ignored and skipped files).
        path: the ``.npy`` file.
        reused: True when an existing cache matched.
    """

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    image_size: int
    channels: int
    fingerprint: str
    content_sha256: str
    skipped: tuple[str, ...]
    summary: tuple[str, ...]
    path: Path
    reused: bool

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)


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


def load_images(data: str | os.PathLike[str], cache_dir: str | os.PathLike[str], image_size: int | None = None,
                channels: int | None = None, progress: Progress | None = None,
                workers: int | None = None, check: Check | None = None) -> ImageCache:
    """The images of ``data`` as a uint8 cache in ``cache_dir``: reused when it matches, else decoded now.

    Args:
        data: a folder of images or an ``.npz`` (see the module docstring).
        cache_dir: the folder for the cache (created when needed).
        image_size: side of the square images; None: the data's own when all are square and of one
            size, else :data:`DEFAULT_IMAGE_SIZE`.
        channels: 1 or 3 to force greyscale or colour; None: 3 when any image is in colour.
        progress: called as ``progress(done, total)`` after each decoded file (the caller draws the
            bar, e.g. with ``keras.utils.Progbar``, the bar ``fit()`` shows).
        workers: decoding threads (Pillow decodes outside the GIL); None: up to 4. Any number gives
            the same bytes in the same order.
        check: called as ``check(image_size, channels, class_names)`` with the settings resolved from
            the data, before anything is decoded or written (and on a cache about to be reused): what
            it raises refuses the data (say, a size no model is built for) at the cost of reading headers.

    Returns:
        The :class:`ImageCache`.

    Raises:
        GantoolError: a bad ``image_size`` or ``channels``.
        DataError: ``data`` is missing, empty or holds no readable image; nothing is written then.
    """
    check_settings(image_size, channels)
    image_size = None if image_size is None else int(image_size)
    index = index_images(data)
    cache_dir = Path(cache_dir)
    found = _find_cache(cache_dir, index.fingerprint, image_size, channels)
    if found is not None:
        if check is not None:
            check(found.image_size, found.channels, found.class_names)
        return found
    source = _npz_source(index) if index.kind == "npz" else _folder_source(index)
    if not source.items:
        raise DataError(f"`data` {index.root} holds no readable image ({_listed(source.skipped)}); {HOW_TO_PASS}")
    sizes, modes = collections.Counter(source.sizes), collections.Counter(source.modes)
    own = next(iter(sizes))
    data_size = own[0] if len(sizes) == 1 and own[0] == own[1] else DEFAULT_IMAGE_SIZE
    data_channels = 3 if any(mode not in GREY_MODES for mode in modes) else 1
    size, chans = image_size or data_size, channels or data_channels
    if check is not None:
        check(size, chans, source.class_names)
    summary = _summary(index, source, sizes, modes, size, chans)
    return _build(cache_dir, index, source, size, chans, summary, dict(data_image_size=data_size,
                  data_channels=data_channels), progress, workers or min(4, os.cpu_count() or 1))


@dataclasses.dataclass
class _Source:
    """The decodable items of the data: ``decode(item, size, channels)`` gives an array or raises."""

    items: list
    labels: list | None
    sizes: list
    modes: list
    skipped: list[str]
    decode: Callable
    class_names: tuple[str, ...]


def _folder_source(index: ImageIndex) -> _Source:
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

    return _Source(items, labels if index.labels is not None else None, sizes, modes, skipped, decode,
                   index.class_names)


def _npz_source(index: ImageIndex) -> _Source:
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
    return _Source(list(range(len(x))), None if y is None else y.tolist(), [(width, height)] * len(x),
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


def _listed(entries, limit: int = 5) -> str:
    more = f", ... ({len(entries)} in all)" if len(entries) > limit else ""
    return "; ".join(entries[:limit]) + more if entries else "none"


def _summary(index, source, sizes, modes, size, channels) -> list[str]:
    lines = []
    if len(sizes) > 1 or next(iter(sizes)) != (size, size):
        common = ", ".join(f"{w}x{h} x{n}" for (w, h), n in sizes.most_common(3))
        lines.append(f"{len(sizes)} image size(s) ({common}{', ...' if len(sizes) > 3 else ''}): shorter side "
                     f"resized to {size} (Lanczos), centre {size}x{size} kept")
    if len(modes) > 1 or channels != (1 if next(iter(modes)) in GREY_MODES else 3):
        listed = ", ".join(f"{mode} x{n}" for mode, n in modes.most_common())
        lines.append(f"image modes {listed}: all made {'greyscale' if channels == 1 else 'RGB'} "
                     "(transparency composited on white)")
    beside = [rel for rel in index.ignored if "/" not in rel and Path(rel).suffix.lower() in image_extensions()]
    if index.class_names and beside:
        lines.append(f"{len(beside)} image(s) directly in {index.root} ignored: with class folders only the images "
                     f"inside them count (PyTorch ImageFolder): {_listed(beside)}")
    others = [rel for rel in index.ignored if rel not in beside]
    if others:
        lines.append(f"{len(others)} file(s) without an image extension ignored: {_listed(others)}")
    return lines


def _build(cache_dir: Path, index, source: _Source, size, channels, summary, data_settings, progress,
           workers) -> ImageCache:
    """Decode ``source`` into the cache files (the sidecar last) and open them."""
    stem = cache_dir / f"images_{size}x{size}x{channels}"
    sidecar, npy, labels_npy = stem.with_suffix(".json"), stem.with_suffix(".npy"), Path(f"{stem}_labels.npy")
    created = not cache_dir.exists()
    cache_dir.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)
    skipped, kept, digest = list(source.skipped), [], hashlib.sha256()
    try:
        with atomic_path(npy) as tmp:
            rows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(source.items), size, size, channels))
            for i, result in enumerate(_decoded(source, size, channels, workers)):
                if isinstance(result, np.ndarray):
                    rows[len(kept)] = result
                    digest.update(result.tobytes())
                    kept.append(i)
                else:
                    skipped.append(f"{source.items[i]}: {result}")
                if progress is not None:
                    progress(i + 1, len(source.items))
            rows.flush()
            del rows
            if not kept:
                raise DataError(f"`data` {index.root} holds no readable image ({_listed(skipped)}); {HOW_TO_PASS}")
            if len(kept) < len(source.items):
                _shrink(tmp, len(kept))
    except DataError:
        if created and not any(cache_dir.iterdir()):
            cache_dir.rmdir()
        raise
    labels = None if source.labels is None else np.asarray([source.labels[i] for i in kept], np.int32)
    digest.update(f"{len(kept)}x{size}x{size}x{channels}".encode())
    if labels is not None:
        digest.update(labels.astype("<i4").tobytes())
        with atomic_path(labels_npy) as tmp:
            np.save(tmp, labels)
    where = index.root / index.files[0] if index.kind == "npz" else index.root
    classes = f"{len(source.class_names)} classes ({', '.join(source.class_names)})" if source.class_names else "unlabeled"
    summary = [f"{len(kept)} images from {where}, {classes}, as {size}x{size}x{channels}", *summary]
    skipped.sort()
    if skipped:
        summary.append(f"{len(skipped)} file(s) skipped, not readable: {_listed(skipped)}")
    meta = {"format": CACHE_FORMAT, "preprocess": PREPROCESS, "fingerprint": index.fingerprint,
            "content_sha256": digest.hexdigest(), "count": len(kept), "image_size": size, "channels": channels,
            **data_settings, "class_names": list(source.class_names), "labels": labels is not None,
            "skipped": skipped, "summary": summary, "pillow": Image.__version__}
    write_bytes_atomic(sidecar, json.dumps(meta, indent=1).encode())
    return _open_cache(sidecar, meta, reused=False)


def _decoded(source: _Source, size: int, channels: int, workers: int):
    """Each item's array (or the reason it failed), in item order whatever ``workers`` is."""
    def one(item):
        try:
            return source.decode(item, size, channels)
        except Exception as exc:  # a truncated or corrupt file: skipped and named, not fatal
            return _reason(exc)

    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(source.items), CHUNK):
            yield from pool.map(one, source.items[start:start + CHUNK])


def _shrink(path: Path, count: int) -> None:
    """Rewrite the ``.npy`` at ``path`` with only its first ``count`` rows (after files failed to decode)."""
    full_path = path.with_name(path.name + ".full.npy")
    os.replace(path, full_path)
    try:
        full = np.load(full_path, mmap_mode="r", allow_pickle=False)
        rows = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(count, *full.shape[1:]))
        for start in range(0, count, CHUNK):
            rows[start:start + CHUNK] = full[start:min(start + CHUNK, count)]
        rows.flush()
        del rows, full
    finally:
        full_path.unlink()


def _find_cache(cache_dir: Path, fingerprint: str, image_size, channels) -> ImageCache | None:
    """The cache in ``cache_dir`` made from these files with these settings, if one is there and intact."""
    if not cache_dir.is_dir():
        return None
    for sidecar in sorted(cache_dir.glob("images_*.json")):
        try:
            meta = json.loads(sidecar.read_text())
            matches = (meta["format"] == CACHE_FORMAT and meta["preprocess"] == PREPROCESS
                       and meta["fingerprint"] == fingerprint
                       and (image_size or meta["data_image_size"]) == meta["image_size"]
                       and (channels or meta["data_channels"]) == meta["channels"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        cache = _open_cache(sidecar, meta, reused=True) if matches else None
        if cache is not None:
            return cache
    return None


def _open_cache(sidecar: Path, meta: dict, reused: bool) -> ImageCache | None:
    """Memory-map the arrays ``meta`` describes; None when they are missing or another shape."""
    stem = sidecar.with_suffix("")
    shape = (meta["count"], meta["image_size"], meta["image_size"], meta["channels"])
    try:
        images = np.load(stem.with_suffix(".npy"), mmap_mode="r", allow_pickle=False)
        labels = np.load(f"{stem}_labels.npy", allow_pickle=False) if meta["labels"] else None
    except (OSError, ValueError):
        return None
    if images.shape != shape or images.dtype != np.uint8 or (labels is not None and labels.shape != shape[:1]):
        return None
    summary = meta["summary"] if not reused else [*meta["summary"], f"decoded images reused from {stem}.npy"]
    return ImageCache(images, labels, tuple(meta["class_names"]), meta["image_size"], meta["channels"],
                      meta["fingerprint"], meta["content_sha256"], tuple(meta["skipped"]), tuple(summary),
                      stem.with_suffix(".npy"), reused)


def scale_images(batch, value_range: tuple[float, float] = ASSUMED_VALUE_RANGE):
    """uint8 pixels -> float32 in ``value_range`` (0 -> low, 255 -> high), as a TensorFlow op.

    For (-1, 1) it is ``(p - 127.5) / 127.5``, the very expression :mod:`gantool.train.data` scales
    MNIST with, so both pipelines give the same bits.
    """
    import tensorflow as tf

    low, high = value_range
    scale = 255.0 / (high - low)
    return (tf.cast(batch, tf.float32) - (-low * scale)) / scale


def images_dataset(images: np.ndarray, *, seed: int, epoch: int, batch_size: int, labels: np.ndarray | None = None,
                   steps_per_epoch: int = 0, value_range: tuple[float, float] = ASSUMED_VALUE_RANGE):
    """One epoch of scaled batches from uint8 ``images`` (``(batch, image)`` pairs with ``labels``).

    The order is :func:`gantool.train.data.epoch_dataset`'s for the same ``(seed, epoch)``: the same
    shuffle seed and buffer, drawn over indices instead of images (a shuffle's order does not depend
    on what it shuffles), the last ragged batch dropped, ``steps_per_epoch`` (0: all) batches. Rows are
    read from ``images`` (a memory map stays one) a batch at a time and scaled by
    :func:`scale_images`.
    """
    import tensorflow as tf

    count = len(images)
    shuffle_seed = int(np.random.default_rng([seed, epoch]).integers(2**31 - 1))
    indices = (tf.data.Dataset.range(count).shuffle(count, seed=shuffle_seed, reshuffle_each_iteration=False)
               .batch(batch_size, drop_remainder=True))
    if steps_per_epoch:
        indices = indices.take(steps_per_epoch)
    label_table = None if labels is None else tf.constant(np.asarray(labels, np.int32))

    def rows(index):
        batch = tf.numpy_function(lambda i: np.asarray(images[i]), [index], tf.uint8, stateful=False)
        batch.set_shape((batch_size, *images.shape[1:]))
        scaled = scale_images(batch, value_range)
        return scaled if label_table is None else (scaled, tf.gather(label_table, index))

    return indices.map(rows, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def images_training_dataset(images: np.ndarray, *, seed: int, batch_size: int, first_epoch: int, last_epoch: int,
                            labels: np.ndarray | None = None, steps_per_epoch: int = 0,
                            value_range: tuple[float, float] = ASSUMED_VALUE_RANGE):
    """Epochs ``first_epoch..last_epoch - 1`` of :func:`images_dataset` one after the other, for one
    ``fit`` (as :func:`gantool.train.data.training_dataset`): a resumed run sees the batches the
    uninterrupted one saw."""
    def one(epoch):
        return images_dataset(images, seed=seed, epoch=epoch, batch_size=batch_size, labels=labels,
                              steps_per_epoch=steps_per_epoch, value_range=value_range)

    dataset = one(first_epoch)
    for epoch in range(first_epoch + 1, last_epoch):
        dataset = dataset.concatenate(one(epoch))
    return dataset
