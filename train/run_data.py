"""A run's training data: MNIST as it always was, or your own images, checked again on ``--resume``.

``data`` picks the reader (:func:`reads_as_mnist`). Nothing (``$GANTOOL_DATA``, Keras' cache, its
download), a Keras ``mnist.npz`` or a folder of the MNIST IDX files is MNIST: read by
:mod:`gantool.judge.mnist` and fed by :mod:`gantool.train.data`, exactly as before. Any other folder,
or an ``.npz`` holding an array ``x``, is images (:mod:`gantool.train.images`): decoded once into the
run folder's ``data_cache`` (written under the run's lock; ``--resume`` reuses it) and fed in the
MNIST pipeline's shuffled order, scaled the same, so MNIST's training digits give the same batches
whichever way they come.

What the images resolved to is recorded in ``config.json`` under ``data``. A resumption reads the
folder again only to fingerprint it (names, sizes, modification times): when the run's cache has
that fingerprint nothing is decoded and the data is the run's. When it has not (files added,
removed, edited, or only copied with new times), the images are decoded again and their
``content_sha256`` decides: the same pixels and labels go on; other ones are refused unless
``data_changed_ok``, and then the data they replace is recorded.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gantool.errors import GantoolError
from gantool.runtime.contract import DIGIT_SHAPE
from gantool.train.archs import ModelShape, check_layout
from gantool.train.config import TrainConfig
from gantool.train.run_dir import RunDir

CACHE_FOLDER = "data_cache"
SKIPPED_NAMED = 5  # skipped files named in config.json (all are counted)
DIGIT_NAMES = tuple("0123456789")
HOW_TO_PASS = ("pass `data`: a Keras mnist.npz, a folder of the MNIST IDX files, a folder of images (one "
               "sub-folder per class if labeled) or an .npz with a uint8 array 'x'")


@dataclasses.dataclass(frozen=True)
class RunData:
    """What a run trains on.

    Args:
        images: uint8 images: ``(n, 28, 28)`` for MNIST, ``(n, size, size, channels)`` memory-mapped for
            images; None for the quadratic toy, whose points are drawn each epoch.
        labels: the images' class indices when the config reads them (``TrainConfig.uses_labels``), else None.
        source: what the data is, for the log.
        dataset: ``mnist``, ``images`` or ``quadratic`` (the contract's ``dataset``).
        image_shape: one image's shape, which the generator draws; None for points.
        class_names: the data's classes in label order; empty for MNIST (the digits) and unlabeled images.
        record: config.json's ``data`` for images (None for MNIST, whose runs never had one).
    """

    images: np.ndarray | None
    labels: np.ndarray | None
    source: str
    dataset: str
    image_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] = ()
    record: dict[str, Any] | None = None

    def training_dataset(self, config: TrainConfig, first_epoch: int, last_epoch: int):
        """Epochs ``first_epoch..last_epoch - 1`` of batches, for one ``fit``."""
        if self.dataset != "images":
            from gantool.train.data import training_dataset

            return training_dataset(config, first_epoch, last_epoch, self.images, self.labels)
        from gantool.train.images import images_training_dataset

        return images_training_dataset(self.images, seed=config.seed, batch_size=config.batch_size,
                                       first_epoch=first_epoch, last_epoch=last_epoch, labels=self.labels,
                                       steps_per_epoch=config.steps_per_epoch or 0)

    def steps_per_epoch(self, config: TrainConfig) -> int:
        from gantool.train.data import steps_per_epoch

        return steps_per_epoch(config, self.images)

    @property
    def class_count(self) -> int:
        """Classes of the data's labels: MNIST's 10 digits, else one per class name (0: unlabeled)."""
        return len(DIGIT_NAMES) if self.dataset == "mnist" else len(self.class_names)

    def model_shape(self, config: TrainConfig) -> ModelShape:
        """What ``config``'s generator draws on this data (:meth:`~gantool.train.archs.ArchSpec.model_shape`)."""
        return config.spec.model_shape(self.image_shape, self.class_count)


def reads_as_mnist(data: str | Path | None) -> bool:
    """True when ``data`` is read as MNIST; the rule's one home is :func:`gantool.judge.real.is_mnist_data`
    (``gantool eval --data`` decides the same way).

    Raises:
        DataError: ``data`` does not exist.
    """
    from gantool.judge.real import is_mnist_data

    return is_mnist_data(data)


def load_run_data(config: TrainConfig, run: RunDir, data: str | None, resume: bool = False, epoch: int = 0,
                  data_changed_ok: bool = False, log: Callable[[str], None] = print) -> RunData:
    """The data ``config`` trains on in ``run``; with ``resume`` (after ``epoch``), checked against the run's.

    A resumption without ``data`` reads the images the run was started with (config.json's record).

    Raises:
        DataError: unreadable data, or no readable image in it.
        GantoolError: data this version cannot train (:func:`check_supported`), a ``batch_size`` larger
            than the data, or a resumption on other data than the run's.
    """
    spec = config.spec
    if spec.output_kind == "points":
        return RunData(None, None, "points (x, x^2), fresh each epoch", spec.dataset)
    saved = saved_record(run) if resume else None
    if data is None and saved is not None:
        data = saved["source"]
        log(f"Data: {data} (the images {run.root} was started with)")
    if reads_as_mnist(data):
        if saved is not None:
            raise GantoolError(f"{run.root} was trained on the images in {saved['source']}, not MNIST; resume "
                               "without `data`, or with `data` where those images are now")
        return _mnist_data(config, data)
    if resume and saved is None:
        raise GantoolError(f"{run.root} was trained on MNIST, not on images; resume it without `data` or with "
                           "MNIST's `data`")
    cache_dir = run.root / CACHE_FOLDER
    created = not cache_dir.exists()
    try:
        loaded = _images_data(config, data, cache_dir, log)
        _check_batch(config, len(loaded.images), loaded.source)
        if saved is not None:
            record = same_data(saved, loaded.record, run.root, epoch, data_changed_ok, log)
            loaded = dataclasses.replace(loaded, record=record)
    except BaseException:
        if created:  # a refused or interrupted start leaves the run folder as it found it
            shutil.rmtree(cache_dir, ignore_errors=True)
        raise
    return loaded


def check_supported(config: TrainConfig, image_size: int, channels: int, class_names: tuple[str, ...]) -> None:
    """Refuse data ``config`` cannot train, from the shape the images come out at and their classes.

    An arch of MNIST's shape (``dcgan``, ``mlp``, ``cdcgan``) takes 28x28 greyscale only; the DCGAN
    paper's (``dcgan-paper``, ``cdcgan-paper``) any shape with a layout
    (:func:`gantool.train.archs.check_layout`: 28 grey, or 32, 64, 128 grey or colour). What reads ten
    classes (``cdcgan``'s label, the digit code, the class head) needs ten; a conditional paper arch two
    or more; anything that reads labels needs labeled images.
    """
    spec = config.spec
    shape = (image_size, image_size, channels)
    name = f"recipe {config.recipe}" if config.recipe else f"`arch` {config.arch}"
    if not spec.sized_by_data and shape != spec.output_shape:
        raise GantoolError(f"the images come out {'x'.join(map(str, shape))}, and {name} draws "
                           f"{'x'.join(map(str, spec.output_shape))} only; train `recipe` {_paper_recipe(class_names)} "
                           "(28 grey, or 32, 64 or 128 pixels, grey or colour), or pass `image_size` 28 and `channels` "
                           "1 to resize and convert them")
    if spec.sized_by_data:
        check_layout(image_size, channels, len(class_names) if spec.conditional else 0)
    if not class_names and config.uses_labels:
        reason = ("`arch` " + config.arch + " is conditional" if spec.conditional else
                  "its critic is told each image's class (`code_critic`)" if config.code_critic else
                  "its critic learns each image's class (`aux_weight`)")
        raise GantoolError(f"{name} needs labeled images ({reason}) and `data` has no class sub-folders; put "
                           "the images in one sub-folder per class, or train an unlabeled `recipe` (dcgan-paper, "
                           "or tutorial at 28x28)")
    reads_ten = spec.num_classes == len(DIGIT_NAMES) or config.names_digit or bool(config.aux_weight)
    if class_names and reads_ten and len(class_names) != len(DIGIT_NAMES):
        listed = ", ".join(class_names[:5]) + (", ..." if len(class_names) > 5 else "")
        raise GantoolError(f"`data` has {len(class_names)} classes ({listed}) and {name} reads 10 (as MNIST's "
                           f"0-9); train `recipe` cdcgan-paper for {len(class_names)} classes, or dcgan-paper to "
                           "ignore them")
    if spec.num_classes is None and len(class_names) < 2:
        raise GantoolError(f"{name} draws one class per sub-folder of `data`, which has {len(class_names)}; "
                           "give it two or more, or train `recipe` dcgan-paper")


def _paper_recipe(class_names: tuple[str, ...]) -> str:
    return "cdcgan-paper" if len(class_names) >= 2 else "dcgan-paper"


def recipe_for_data(data: str | Path | None, image_size: int | None = None,
                    channels: int | None = None) -> tuple[str, str]:
    """The recipe ``gantool train`` runs on ``data`` when none is named, and why in words ("" for MNIST).

    MNIST, and 28x28 greyscale images in 10 classes (as MNIST's digits), keep the ``default`` recipe,
    whose latent names one of ten digits; other images train the DCGAN paper's recipe at their own
    size: ``cdcgan-paper`` (a label input, one class per sub-folder) when labeled in two or more
    classes, else ``dcgan-paper``. The shape is read from the image headers only for 10 classes, and
    not when ``image_size`` and ``channels`` both say it.

    Raises:
        DataError: ``data`` is missing or holds no image.
    """
    if reads_as_mnist(data):
        return "default", ""
    from gantool.judge.images import index_images, open_source, settle

    index = index_images(data)
    source = open_source(index) if index.kind == "npz" else None  # an .npz keeps its labels inside
    classes = (source or index).class_names
    if len(classes) < 2:
        return "dcgan-paper", "the images are unlabeled (no class sub-folders)"
    if len(classes) == len(DIGIT_NAMES):
        if image_size is None or channels is None:
            settled = settle(index, source or open_source(index), image_size, channels)
            image_size, channels = settled.image_size, settled.channels
        if (image_size, image_size, channels) == DIGIT_SHAPE:
            return "default", "10 classes of 28x28 greyscale images, as MNIST's digits"
    return "cdcgan-paper", f"the images are labeled in {len(classes)} classes"


def saved_record(run: RunDir) -> dict[str, Any] | None:
    """config.json's ``data`` of the run (None: an MNIST run, or none saved)."""
    try:
        record = json.loads(run.config.read_text()).get("data")
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) and "content_sha256" in record else None


def same_data(saved: dict[str, Any], record: dict[str, Any], root: Path, epoch: int, data_changed_ok: bool,
              log: Callable[[str], None]) -> dict[str, Any]:
    """``record`` (the images now) for config.json, after checking it against ``saved`` (the run's so far).

    The decoded content decides, not the file list's fingerprint: a folder copied without its times
    is the same data. Images of another shape or other classes are always refused: the run's
    generator is built for the ones it started with.
    """
    replaced = list(saved.get("replaced", []))
    keys = ("image_size", "channels", "class_names")
    if tuple(saved.get(k) for k in keys) != tuple(record[k] for k in keys):
        def describe(r):
            return f"{r['image_size']}x{r['image_size']}x{r['channels']}, classes {r['class_names'] or 'none'}"

        raise GantoolError(f"{root} was trained on {describe(saved)} images; {record['source']} now gives "
                           f"{describe(record)}; start a new run")
    if saved["content_sha256"] != record["content_sha256"]:
        if not data_changed_ok:
            raise GantoolError(f"the images in {record['source']} changed since {root} started ({saved['count']} "
                               f"then, {record['count']} now, other pixels or labels); restore them, or pass "
                               "`data_changed_ok` to train on them from here")
        log(f"Training on from epoch {epoch} on changed images ({saved['count']} before, {record['count']} now); "
            "config.json records the data they replace")
        replaced.append({"until_epoch": epoch, "count": saved["count"], "content_sha256": saved["content_sha256"]})
    elif saved["fingerprint"] != record["fingerprint"]:
        log("The image files were renamed, touched or copied since the run started; their pixels and labels are the same")
    return {**record, "replaced": replaced} if replaced else record


# Below this many images training the DCGAN paper's pair says the set is small: a judgment between the
# sets measured (docs/own_images.md): 3,000 and 12,000 synthetic shapes collapsed, 60,000 learned.
FEW_IMAGES = 20_000


def _mnist_data(config: TrainConfig, data: str | None) -> RunData:
    from gantool.judge.mnist import load_mnist

    if (config.image_size or DIGIT_SHAPE[0], config.channels or DIGIT_SHAPE[2]) != (DIGIT_SHAPE[0], DIGIT_SHAPE[2]):
        raise GantoolError("MNIST is read as it is, 28x28 greyscale, and not resized; drop `image_size` and "
                           "`channels`, or write it as a folder (scripts/mnist_to_folder.py) to resize it")
    check_supported(config, DIGIT_SHAPE[0], DIGIT_SHAPE[2], DIGIT_NAMES)
    mnist = load_mnist(data)
    _check_batch(config, len(mnist.x_train), mnist.source)
    labels = mnist.y_train if config.uses_labels else None
    return RunData(mnist.x_train, labels, f"{mnist.source} ({len(mnist.x_train)} images)", "mnist", DIGIT_SHAPE)


def _images_data(config: TrainConfig, data: str, cache_dir: Path, log: Callable[[str], None]) -> RunData:
    from gantool.train.images import load_images

    log(f"Reading the images in {data}")
    cache = load_images(data, cache_dir, image_size=config.image_size, channels=config.channels,
                        progress=_progress(log, cache_dir), check=functools.partial(check_supported, config))
    for line in cache.summary:
        log(line)
    if config.spec.sized_by_data and len(cache.images) < FEW_IMAGES:
        log(f"{len(cache.images):,} images are few for the DCGAN paper's settings, which augment nothing: on 3,000 "
            "and 12,000 synthetic shapes the critic won and the samples collapsed, where 60,000 drew shapes "
            "(docs/own_images.md); more images help")
    record = {"dataset": "images", "source": str(Path(data).expanduser().resolve()), "count": len(cache.images),
              "image_size": cache.image_size, "channels": cache.channels, "class_names": list(cache.class_names),
              "fingerprint": cache.fingerprint, "content_sha256": cache.content_sha256,
              "skipped_count": len(cache.skipped), "skipped": list(cache.skipped[:SKIPPED_NAMED])}
    return RunData(cache.images, cache.labels if config.uses_labels else None,
                   f"{record['source']} ({len(cache.images)} images)", "images", cache.image_shape,
                   cache.class_names, record)


def _check_batch(config: TrainConfig, count: int, source: str) -> None:
    if config.batch_size > count:  # else every epoch has no step
        raise GantoolError(f"`batch_size` {config.batch_size} is larger than the {count} training images in "
                           f"{source}; lower it")


def _progress(log: Callable[[str], None], cache_dir: Path, every: float = 10.0) -> Callable[[int, int], None]:
    """``load_images``' progress: the bar ``fit()`` shows on a terminal, else a line every ``every`` seconds;
    then the time it took."""
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if done == 1:
            state.update(start=now, said=now)
            log(f"Decoding {total:,} images into {cache_dir} (once: a resumption reuses them)")
            if sys.stdout.isatty():
                import keras

                state["bar"] = keras.utils.Progbar(total, unit_name="image")
        if "bar" in state:
            state["bar"].update(done)
        elif now - state["said"] >= every and done < total:
            state["said"] = now
            log(f"  {done:,} of {total:,} images decoded")
        if done == total:
            log(f"Decoded {total:,} images in {now - state['start']:.1f} s")

    return update
