"""tf.data pipelines: each epoch's batches, a pure function of (seed, epoch)."""

from __future__ import annotations

import numpy as np

from gantool.train.config import TrainConfig


def scaled_images(images: np.ndarray, labels: np.ndarray | None = None):
    """The training images scaled to [-1, 1] and cached in memory (with their labels when given)."""
    import tensorflow as tf

    scaled = tf.data.Dataset.from_tensor_slices(images[..., None]).map(
        lambda x: (tf.cast(x, tf.float32) - 127.5) / 127.5, num_parallel_calls=tf.data.AUTOTUNE)
    if labels is not None:
        scaled = tf.data.Dataset.zip((scaled, tf.data.Dataset.from_tensor_slices(labels.astype(np.int32))))
    return scaled.cache()


def epoch_dataset(images: np.ndarray, config: TrainConfig, epoch: int, labels: np.ndarray | None = None,
                  scaled=None):
    """tf.data pipeline for one epoch: scaled images (``scaled``, else made here), shuffled by (seed, epoch), batched.

    With ``labels`` (a conditional GAN, or the class task) each element is ``(image, label)``.
    The last ragged batch is dropped so every step sees equal real and fake counts.
    """
    import tensorflow as tf

    scaled = scaled_images(images, labels) if scaled is None else scaled
    shuffle_seed = int(np.random.default_rng([config.seed, epoch]).integers(2**31 - 1))
    dataset = (
        scaled.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=False)
        .batch(config.batch_size, drop_remainder=True)
    )
    if config.steps_per_epoch:
        dataset = dataset.take(config.steps_per_epoch)
    return dataset.prefetch(tf.data.AUTOTUNE)


# Real points drawn per epoch of the quadratic toy when steps_per_epoch is not given.
QUADRATIC_EPOCH_POINTS = 25_600


def quadratic_dataset(config: TrainConfig, epoch: int):
    """One epoch of fresh real points (x, x^2), drawn from (seed, epoch)."""
    import tensorflow as tf

    from gantool.runtime.points import real_points

    steps = config.steps_per_epoch or QUADRATIC_EPOCH_POINTS // config.batch_size
    points = real_points(steps * config.batch_size, np.random.default_rng([config.seed, epoch]))
    return tf.data.Dataset.from_tensor_slices(points).batch(config.batch_size, drop_remainder=True)


def steps_per_epoch(config: TrainConfig, images: np.ndarray | None) -> int:
    """Batches in one epoch: full batches of the images (or points), capped by ``steps_per_epoch``."""
    if images is None:
        return config.steps_per_epoch or QUADRATIC_EPOCH_POINTS // config.batch_size
    full = len(images) // config.batch_size
    return min(full, config.steps_per_epoch) if config.steps_per_epoch else full


def training_dataset(config: TrainConfig, first_epoch: int, last_epoch: int, images: np.ndarray | None = None,
                     labels: np.ndarray | None = None):
    """Epochs ``first_epoch..last_epoch - 1`` one after the other, for one ``fit`` with ``steps_per_epoch``.

    Each epoch's order depends only on (seed, epoch), so a resumed run sees the batches the
    uninterrupted one saw. Without ``images`` it is the quadratic toy's points.
    """
    scaled = scaled_images(images, labels) if images is not None else None  # one cache for every epoch

    def one(epoch):
        if images is None:
            return quadratic_dataset(config, epoch)
        return epoch_dataset(images, config, epoch, labels, scaled)

    dataset = one(first_epoch)
    for epoch in range(first_epoch + 1, last_epoch):
        dataset = dataset.concatenate(one(epoch))
    return dataset
