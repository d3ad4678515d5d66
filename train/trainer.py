"""``gantool train``: the epoch loop with checkpoints, sample grids, logs and resume.

Determinism: each epoch's data order is drawn from ``(seed, epoch)``, the
noise and dropout streams are variables saved in the checkpoint, and
TensorFlow's op determinism is on, so on CPU a resumed run ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError
from gantool.runtime.contract import ModelContract, latents
from gantool.runtime.files import check_output_folder, write_bytes_atomic
from gantool.runtime.images import make_grid, save_gif, save_png
from gantool.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, read_checkpoint_meta, save_checkpoint
from gantool.train.config import TrainConfig

METRIC_NAMES = ("d_loss", "g_loss", "d_real", "d_fake")
EVAL_NAMES = ("fid", "mnist_score", "class_kl", "min_class_share")
GRID_COUNT = 64
# Latent seed of the per-epoch evaluation: fixed, so epochs are compared on the same latents.
EVAL_SEED = 0


class RunDir:
    """The files of one training run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checkpoint = root / "checkpoints" / CHECKPOINT_NAME
        self.samples = root / "samples"
        self.epochs = root / "epochs"
        self.metrics = root / "metrics.csv"
        self.config = root / "config.json"
        self.generator = root / "generator.keras"
        self.gif = root / "progress.gif"
        self.best = root / "best.keras"
        self.best_info = root / "best.json"
        self.tensorboard = root / "tensorboard"

    def grid(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:04d}.png"


def describe_device() -> tuple[str, bool]:
    """Name the device training will use; True when it is a GPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({', '.join(g.name for g in gpus)})", True
    import os

    return f"CPU ({os.cpu_count()} cores; no GPU visible to TensorFlow)", False


# Real points drawn per epoch of the quadratic toy when --steps-per-epoch is not given.
QUADRATIC_EPOCH_POINTS = 25_600


def epoch_dataset(images: np.ndarray, config: TrainConfig, epoch: int, labels: np.ndarray | None = None):
    """tf.data pipeline for one epoch: scale to [-1, 1], cache, shuffle by (seed, epoch), batch, prefetch.

    With ``labels`` (a conditional GAN) each element is ``(image, label)``.
    The last ragged batch is dropped so every step sees equal real and fake counts.
    """
    import tensorflow as tf

    shuffle_seed = int(np.random.default_rng([config.seed, epoch]).integers(2**31 - 1))
    scaled = tf.data.Dataset.from_tensor_slices(images[..., None]).map(
        lambda x: (tf.cast(x, tf.float32) - 127.5) / 127.5, num_parallel_calls=tf.data.AUTOTUNE)
    if labels is not None:
        scaled = tf.data.Dataset.zip((scaled, tf.data.Dataset.from_tensor_slices(labels.astype(np.int32))))
    dataset = (
        scaled.cache()
        .shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=False)
        .batch(config.batch_size, drop_remainder=True)
    )
    if config.steps_per_epoch:
        dataset = dataset.take(config.steps_per_epoch)
    return dataset.prefetch(tf.data.AUTOTUNE)


def quadratic_dataset(config: TrainConfig, epoch: int):
    """One epoch of fresh real points (x, x^2), drawn from (seed, epoch)."""
    import tensorflow as tf

    from gantool.runtime.points import real_points

    steps = config.steps_per_epoch or QUADRATIC_EPOCH_POINTS // config.batch_size
    points = real_points(steps * config.batch_size, np.random.default_rng([config.seed, epoch]))
    return tf.data.Dataset.from_tensor_slices(points).batch(config.batch_size, drop_remainder=True)


def build_gan(config: TrainConfig, on_gpu: bool):
    """Build and compile the GAN and its optimizers (variables created, ready to load)."""
    import keras

    from gantool.train.gan import GAN
    from gantool.train.models import build_discriminator, build_generator

    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16" if on_gpu else "mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(config.seed)
    generator = build_generator(config.latent_dim, config.initializer, output_dtype="float32", arch=config.arch)
    discriminator = build_discriminator(initializer=config.initializer, output_dtype="float32", arch=config.arch,
                                        aux_classes=10 if config.aux_weight else 0)
    gan = GAN(generator, discriminator, config.latent_dim, config.seed, config.label_smoothing, config.ema_decay,
              config.d_steps, num_classes=config.spec.num_classes, aux_weight=config.aux_weight,
              aux_fake_weight=config.aux_fake_weight, aux_balance=config.aux_balance,
              aux_sharpen=config.aux_sharpen, top_k=config.top_k)

    def adam(lr):
        opt = keras.optimizers.Adam(learning_rate=lr, beta_1=config.beta1)
        if config.mixed_precision and on_gpu:
            opt = keras.optimizers.LossScaleOptimizer(opt)
        return opt

    gan.compile(d_optimizer=adam(config.discriminator_lr), g_optimizer=adam(config.lr), jit_compile=on_gpu)
    gan.d_optimizer.build(discriminator.trainable_variables)
    gan.g_optimizer.build(generator.trainable_variables)
    return gan


def set_learning_rates(gan, config: TrainConfig, epoch: int) -> None:
    """Apply the learning-rate schedule for 0-based ``epoch`` (a pure function of config and epoch)."""
    scale = config.lr_scale(epoch)
    gan.d_optimizer.learning_rate.assign(config.discriminator_lr * scale)
    gan.g_optimizer.learning_rate.assign(config.lr * scale)


def float32_generator(gan, config: TrainConfig):
    """A float32 copy of the trained generator (for saving and export, whatever the training policy)."""
    import keras

    from gantool.train.models import build_generator

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clean = build_generator(config.latent_dim, config.initializer, arch=config.arch)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clean.set_weights([np.asarray(w, dtype=np.float32) for w in gan.inference_weights()])
    if config.ema_decay:
        recalibrate_batchnorm(clean, config.latent_dim, config.spec.num_classes)
    return clean


def generator_inputs(z: np.ndarray, num_classes: int, labels: np.ndarray | None = None):
    """What a Keras generator takes: ``z``, or ``[z, labels]`` for a conditional one (default labels)."""
    if not num_classes:
        return z
    from gantool.runtime.contract import default_labels

    return [z, default_labels(len(z), num_classes) if labels is None else labels]


RECALIBRATION_SEED = 12345
RECALIBRATION_COUNT = 4096


def recalibrate_batchnorm(generator, latent_dim: int, num_classes: int = 0) -> None:
    """Recompute every BatchNorm's moving statistics for the generator's current weights.

    Averaged (EMA) weights do not match averaged BatchNorm statistics: measured on
    an epoch-2 EMA generator, classifier-FID 56.9 before and 21.3 after. One
    forward pass in training mode over a fixed batch of latents with momentum 0
    sets each layer's statistics to that batch's (deterministic: fixed seed).
    """
    import keras

    layers = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        z = latents(RECALIBRATION_COUNT, latent_dim, RECALIBRATION_SEED)
        generator(generator_inputs(z, num_classes), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def model_contract(config: TrainConfig, resumes: list | None = None) -> ModelContract:
    """The contract of the run's generator; ``resumes`` (recipe changes at resumptions) joins its training record."""
    spec = config.spec
    training = config.to_dict()
    if resumes:
        training["resumes"] = resumes
    return ModelContract(latent_dim=config.latent_dim, output_shape=spec.output_shape, value_range=spec.value_range,
                         arch=config.arch, output_kind=spec.output_kind, num_classes=spec.num_classes,
                         dataset=spec.dataset, training=training)


def _resume_history(run: RunDir, epoch: int, config: TrainConfig, saved: TrainConfig) -> list:
    """The run's earlier recipe changes (from config.json) plus this resumption's, if it changes the recipe.

    A run whose recipe changed part-way (e.g. a later phase with a stronger --aux-weight) is only
    reproducible with that history, so it is kept in the contract's training record (config.json),
    which every export carries.
    """
    try:
        history = json.loads(run.config.read_text())["contract"]["training"].get("resumes", [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        history = []
    history = [entry for entry in history if isinstance(entry, dict) and entry.get("after_epoch", 0) < epoch]
    changed = config.recipe_changes(saved)
    if changed:
        history.append({"after_epoch": epoch, "changed": changed})
    return history


def _save_keras(model, path: Path) -> None:
    from gantool.runtime.files import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)


# Figures logged per evaluated epoch, by output kind; the first one picks best.keras (lower is better).
EVAL_FIGURES = {"image": EVAL_NAMES, "points": ("mean_abs_error", "coverage")}
CONDITIONAL_FIGURES = ("class_accuracy",)
QUADRATIC_PLOT_COUNT = 1000


class EpochWriter:
    """Writes what every epoch leaves behind: grid (or scatter plot), metrics row, TensorBoard scalars."""

    def __init__(self, run: RunDir, config: TrainConfig) -> None:
        import tensorflow as tf

        self.run = run
        self.config = config
        self.contract = model_contract(config)
        self.num_classes = self.contract.num_classes
        if self.contract.is_image:
            # A conditional grid has one row of 8 per class; an unconditional one 8 x 8.
            count = 8 * self.num_classes if self.num_classes else GRID_COUNT
            self.grid_latents = latents(count, config.latent_dim, config.grid_seed)
            self.grid_labels = np.repeat(np.arange(self.num_classes), 8).astype(np.int32) if self.num_classes else None
        else:
            self.grid_latents = latents(QUADRATIC_PLOT_COUNT, config.latent_dim, config.grid_seed)
            self.grid_labels = None
        self.summary = tf.summary.create_file_writer(str(run.tensorboard))
        self.judge = None
        if config.eval_every and self.contract.is_image:
            from gantool.runtime.evaluate import load_judge

            self.judge = load_judge()

    @property
    def figure_names(self) -> tuple[str, ...]:
        names = EVAL_FIGURES[self.contract.output_kind]
        return names + CONDITIONAL_FIGURES if self.num_classes else names

    def _run(self, generator, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        out = [np.asarray(generator(generator_inputs(z[i : i + 500], self.num_classes,
                                                     None if labels is None else labels[i : i + 500]),
                                    training=False), dtype=np.float32) for i in range(0, len(z), 500)]
        return np.concatenate(out)

    def _picture(self, generator, epoch: int) -> np.ndarray:
        outputs = self._run(generator, self.grid_latents, self.grid_labels)
        if self.contract.is_image:
            return make_grid(self.contract.to_uint8(outputs), cols=8, scale=2)
        from gantool.runtime.points import real_points, scatter_plot

        real = real_points(QUADRATIC_PLOT_COUNT, np.random.default_rng(self.config.grid_seed))
        return scatter_plot(outputs, real, title=f"epoch {epoch}")

    def write(self, gan, epoch: int, logs: dict, seconds: float) -> dict:
        generator = float32_generator(gan, self.config)
        save_png(self.run.grid(epoch), self._picture(generator, epoch))
        row = {"epoch": epoch, **{k: float(logs[k]) for k in METRIC_NAMES}, "seconds": round(seconds, 2)}
        row.update(self._evaluate(generator, epoch))
        self._append_metrics(row)
        import tensorflow as tf

        with self.summary.as_default(step=epoch):
            for key in METRIC_NAMES + self.figure_names:
                if row.get(key) not in (None, ""):
                    tf.summary.scalar(key, float(row[key]))
        self.summary.flush()
        if self.config.keep_epochs:
            _save_keras(generator, self.run.epochs / f"generator_epoch_{epoch:04d}.keras")
        return row

    def _figures(self, generator) -> dict:
        z = latents(self.config.eval_count, self.config.latent_dim, EVAL_SEED)
        if not self.contract.is_image:
            from gantool.runtime.points import quadratic_quality

            quality = quadratic_quality(self._run(generator, z))
            return {"mean_abs_error": quality.mean_abs_error, "coverage": quality.coverage}
        from gantool.runtime.evaluate import evaluate_images

        labels = self.contract.default_labels(len(z))
        result = evaluate_images(self._run(generator, z, labels), *self.judge, labels=labels)
        return {key: getattr(result, key) for key in self.figure_names}

    def _evaluate(self, generator, epoch: int) -> dict:
        """Quality figures every ``eval_every`` epochs; keep the best generator (lowest first figure) as best.keras."""
        names = self.figure_names
        if not self.config.eval_every or epoch % self.config.eval_every:
            return {key: "" for key in names} if self.config.eval_every else {}
        figures = {key: round(float(value), 5) for key, value in self._figures(generator).items()}
        key = names[0]
        best = json.loads(self.run.best_info.read_text()) if self.run.best_info.exists() else None
        if best is None or best["epoch"] > epoch or figures[key] < best.get(key, float("inf")):
            _save_keras(generator, self.run.best)
            write_bytes_atomic(self.run.best_info, json.dumps(
                {"epoch": epoch, "count": self.config.eval_count, **figures}).encode())
        return figures

    def _append_metrics(self, row: dict) -> None:
        rows = read_metrics(self.run.metrics, up_to_epoch=row["epoch"] - 1) + [row]
        buffer = io.StringIO()
        fields = list(dict.fromkeys(key for r in rows for key in r))
        writer = csv.DictWriter(buffer, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
        write_bytes_atomic(self.run.metrics, buffer.getvalue().encode())


def read_metrics(path: Path, up_to_epoch: int | None = None) -> list[dict]:
    """Rows of metrics.csv (epochs after ``up_to_epoch`` dropped: they were not checkpointed)."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if up_to_epoch is None or int(r["epoch"]) <= up_to_epoch]


def train(config: TrainConfig, out: Path, data: str | None = None, resume: bool = False, log=print,
          stop_after: int | None = None) -> RunDir:
    """Train the GAN described by ``config`` (any arch of :mod:`gantool.train.archs`) into the run folder ``out``.

    ``stop_after`` ends the session after that epoch's checkpoint, on the full ``config.epochs``
    schedule (learning-rate decay included), so that ``resume`` later continues the same run.

    Raises:
        GantoolError: bad data, an existing run without ``--resume``, or a checkpoint
            that does not match ``config``.
    """
    from gantool.train.mnist import load_mnist

    run = RunDir(Path(out))
    check_output_folder(run.root)
    if stop_after is not None and not 0 < stop_after <= config.epochs:
        raise GantoolError(f"--stop-after must be an epoch in [1, --epochs={config.epochs}], got {stop_after}")
    if run.checkpoint.exists() and not resume:
        raise GantoolError(f"{run.root} already holds a training run; pass --resume to continue it or choose another --out")
    if resume:
        saved_epoch, saved_config = read_checkpoint_meta(run.checkpoint)
        config.check_resumable_from(saved_config)
        # A run killed after its last checkpoint but before generator.keras and the GIF (written
        # last) were (re)written is not finished: resuming it writes them from that checkpoint.
        finished = all(path.is_file() and path.stat().st_mtime_ns >= run.checkpoint.stat().st_mtime_ns
                       for path in (run.generator, run.gif))
        if saved_epoch > config.epochs or (saved_epoch == config.epochs and finished):
            raise GantoolError(f"{run.root} already finished {saved_epoch} epochs; raise --epochs to train further")
        if stop_after is not None and stop_after <= saved_epoch:
            raise GantoolError(f"{run.root} already trained {saved_epoch} epochs; --stop-after {stop_after} has nothing to do")
        # A new decay start applies to the epochs still to train (a decay over them, or a warm
        # restart at the full rate after an earlier decay); the change is recorded in "resumes".
        if config.lr_decay_start != saved_config.lr_decay_start and 0 < config.lr_decay_start < saved_epoch:
            raise GantoolError(f"--lr-decay-start can only change to an epoch >= {saved_epoch}, the epochs already trained")
    spec = config.spec
    mnist = load_mnist(data) if spec.dataset == "mnist" else None
    labels = mnist.y_train if mnist is not None and (spec.num_classes or config.aux_weight) else None
    if mnist is not None and config.batch_size > len(mnist.x_train):  # else every epoch has no step
        raise GantoolError(f"--batch-size {config.batch_size} is larger than the {len(mnist.x_train)} training images "
                           f"in {mnist.source}; lower it")
    for folder in (run.root, run.samples, run.checkpoint.parent, run.epochs):
        folder.mkdir(parents=True, exist_ok=True)

    import tensorflow as tf

    device, on_gpu = describe_device()
    if not on_gpu:
        tf.config.experimental.enable_op_determinism()
    source = f"{mnist.source} ({len(mnist.x_train)} images)" if mnist is not None else "points (x, x^2), fresh each epoch"
    log(f"Training {config.arch} on {device}; data {source}")
    gan = build_gan(config, on_gpu)
    start_epoch = load_checkpoint(run.checkpoint, gan.state_objects()) if resume else 0
    if resume:
        log(f"Resumed from {run.checkpoint} after epoch {start_epoch}")
    resumes = _resume_history(run, start_epoch, config, saved_config) if resume else []
    write_bytes_atomic(run.config, json.dumps(
        {"training": config.to_dict(), "contract": model_contract(config, resumes).to_dict()}, indent=2).encode())
    writer = EpochWriter(run, config)
    verbose = 1 if sys.stdout.isatty() else 2
    last_epoch = config.epochs if stop_after is None else stop_after
    for epoch in range(start_epoch, last_epoch):
        started = time.perf_counter()
        set_learning_rates(gan, config, epoch)
        dataset = (epoch_dataset(mnist.x_train, config, epoch, labels) if mnist is not None
                   else quadratic_dataset(config, epoch))
        history = gan.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose, shuffle=False)
        logs = {k: v[-1] for k, v in history.history.items()}
        row = writer.write(gan, epoch + 1, logs, time.perf_counter() - started)
        save_checkpoint(run.checkpoint, gan.state_objects(), epoch + 1, config)
        quality = "".join(f" {key} {row[key]:.3f}" for key in writer.figure_names if row.get(key) not in (None, ""))
        log(f"epoch {epoch + 1}/{config.epochs}: d_loss {row['d_loss']:.3f} g_loss {row['g_loss']:.3f} "
            f"D(x) {row['d_real']:.2f} D(G(z)) {row['d_fake']:.2f}{quality} ({row['seconds']:.0f} s) -> {run.grid(epoch + 1)}")
    _save_keras(float32_generator(gan, config), run.generator)
    frames = [run.grid(e) for e in range(1, last_epoch + 1) if run.grid(e).exists()]
    if frames:
        save_gif(run.gif, frames)
    return run
