"""Reading your own images: a folder (or an ``.npz``) indexed and decoded into uint8 arrays. Numpy and Pillow only.

Training (:mod:`gantool.train.images`, which caches the decoded images and feeds tf.data from the
cache), ``gantool train-classifier --data DIR`` and ``gantool eval --data DIR`` (a base-install
command) all read data through this module, so every one of them sees the same pixels.

- :func:`index_images` lists a folder's images (or names an ``.npz``) and fingerprints the list
  (:mod:`gantool.judge.image_index`);
- :func:`open_source` opens their headers, :func:`settle` decides size and channels, :func:`decode_all`
  decodes them (the pieces the training cache is built from; opening and decoding live in
  :mod:`gantool.judge.image_decode`);
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
import dataclasses
import hashlib
import numbers
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gantool.errors import DataError, GantoolError
from gantool.judge.image_decode import (  # noqa: F401  (CHUNK, PREPROCESS, RESAMPLE re-exported: this module's public API)
    CHUNK,
    PREPROCESS,
    RESAMPLE,
    ImageSource,
    decode_all,
    open_source,
)
from gantool.judge.image_index import HOW_TO_PASS, ImageIndex, image_extensions, index_images

DEFAULT_IMAGE_SIZE = 64
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})

Progress = Callable[[int, int], None]


def check_settings(image_size: int | None, channels: int | None) -> None:
    """Refuse an ``image_size`` below 1 or ``channels`` other than 1 or 3 (None: decided by the data)."""
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral)
                                   or image_size < 1):
        raise GantoolError(f"`image_size` must be a whole number of pixels >= 1, got {image_size!r}")
    if channels is not None and channels not in (1, 3):
        raise GantoolError(f"`channels` must be 1 (greyscale) or 3 (colour), got {channels!r}")


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
