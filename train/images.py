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

**What counts as data** and **how it is decoded** (sizes, modes, the centre crop): see
:mod:`gantool.judge.images`, which this module reads through, so that ``gantool eval --data`` (a
base-install command) and ``gantool train-classifier`` see the same pixels as training.

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

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from gantool.errors import DataError
from gantool.judge.images import (  # noqa: F401  (re-exported: this module's public API)
    CHUNK,
    DEFAULT_IMAGE_SIZE,
    GREY_MODES,
    HOW_TO_PASS,
    PREPROCESS,
    RESAMPLE,
    ImageIndex,
    ImageSource,
    Progress,
    check_settings,
    decode_all,
    image_extensions,
    index_images,
    listed,
    open_source,
    result_summary,
    settle,
)
from gantool.runtime.contract import ASSUMED_VALUE_RANGE
from gantool.runtime.files import atomic_path, write_bytes_atomic

CACHE_FORMAT = 1

Check = Callable[[int, int, tuple[str, ...]], None]


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
    source = open_source(index)
    settled = settle(index, source, image_size, channels)
    if check is not None:
        check(settled.image_size, settled.channels, source.class_names)
    return _build(cache_dir, index, source, settled.image_size, settled.channels, list(settled.summary),
                  dict(data_image_size=settled.data_image_size, data_channels=settled.data_channels), progress,
                  workers or min(4, os.cpu_count() or 1))


def _build(cache_dir: Path, index, source: ImageSource, size, channels, summary, data_settings, progress,
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
            for i, result in enumerate(decode_all(source, size, channels, workers)):
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
                raise DataError(f"`data` {index.root} holds no readable image ({listed(skipped)}); {HOW_TO_PASS}")
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
    skipped.sort()
    summary = result_summary(index, source, len(kept), size, channels, summary, skipped)
    meta = {"format": CACHE_FORMAT, "preprocess": PREPROCESS, "fingerprint": index.fingerprint,
            "content_sha256": digest.hexdigest(), "count": len(kept), "image_size": size, "channels": channels,
            **data_settings, "class_names": list(source.class_names), "labels": labels is not None,
            "skipped": skipped, "summary": summary, "pillow": Image.__version__}
    write_bytes_atomic(sidecar, json.dumps(meta, indent=1).encode())
    return _open_cache(sidecar, meta, reused=False)


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
