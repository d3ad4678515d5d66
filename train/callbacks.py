"""What every epoch leaves behind, as Keras callbacks (the keras-io ``GANMonitor`` manner).

``gantool train`` is one ``fit()``; these callbacks run at each epoch's end, in the order
:func:`epoch_callbacks` lists them: the generator snapshot first (the others read it), the
checkpoint last but one, so that every file of an epoch exists before its checkpoint says the
epoch is done (a resumed run drops what a crash left of later epochs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import keras
import numpy as np

from gantool.runtime.contract import ModelContract, latents
from gantool.runtime.files import write_bytes_atomic
from gantool.runtime.images import make_grid, save_png
from gantool.train.archs import ModelShape
from gantool.train.build import set_learning_rates
from gantool.train.checkpoint import save_checkpoint
from gantool.train.config import TrainConfig
from gantool.train.run_dir import RunDir, append_metrics, model_contract, save_keras
from gantool.train.snapshot import float32_generator, generator_inputs

METRIC_NAMES = ("d_loss", "g_loss", "d_real", "d_fake")
# Figures logged per evaluated epoch, by output kind; the first one picks best.keras (lower is better).
EVAL_FIGURES = {"image": ("fid", "mnist_score", "class_kl", "min_class_share"), "points": ("mean_abs_error", "coverage")}
CONDITIONAL_FIGURES = ("class_accuracy",)
GRID_COUNT = 64
# A conditional grid shows a row of 8 for each of its first GRID_CLASSES classes.
GRID_CLASSES = 16
# Images up to this side are drawn twice their size in the grid (MNIST's 28, 32); larger ones as they are.
GRID_ZOOM_UP_TO = 32
QUADRATIC_PLOT_COUNT = 1000
# Latent seed of the per-epoch evaluation: fixed, so epochs are compared on the same latents.
EVAL_SEED = 0


def run_generator(generator, z: np.ndarray, num_classes: int, labels: np.ndarray | None = None) -> np.ndarray:
    """The generator's float32 outputs for latents ``z``, 500 at a time."""
    out = [np.asarray(generator(generator_inputs(z[i : i + 500], num_classes,
                                                 None if labels is None else labels[i : i + 500]),
                                training=False), dtype=np.float32) for i in range(0, len(z), 500)]
    return np.concatenate(out)


def figure_names(config: TrainConfig) -> tuple[str, ...]:
    """The quality figures an evaluated epoch logs for ``config``'s arch."""
    names = EVAL_FIGURES[config.spec.output_kind]
    return names + CONDITIONAL_FIGURES if config.spec.conditional else names


def judged(config: TrainConfig, contract: ModelContract) -> bool:
    """True when the run's epochs are judged (``eval_every``): points by the toy's own figures, images by the
    shipped MNIST classifier, so only a model of digits (:attr:`ModelContract.is_digit_model`)."""
    return bool(config.eval_every) and (not contract.is_image or contract.is_digit_model)


class LearningRates(keras.callbacks.Callback):
    """Sets both learning rates at each epoch's start (a pure function of config and epoch)."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config

    def on_epoch_begin(self, epoch, logs=None):
        set_learning_rates(self.model, self.config, epoch)


class EpochTimer(keras.callbacks.Callback):
    """Logs each epoch's wall time as ``seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["seconds"] = round(time.perf_counter() - self.started, 2)


class GeneratorSnapshot(keras.callbacks.Callback):
    """At each epoch's end, the generator as it would be saved: float32, averaged, recalibrated."""

    def __init__(self, config: TrainConfig, contract: ModelContract) -> None:
        super().__init__()
        self.config = config
        self.shape = ModelShape(contract.output_shape, contract.num_classes)
        self.generator = None

    def on_epoch_end(self, epoch, logs=None):
        self.generator = float32_generator(self.model, self.config, self.shape)


class SampleGrid(keras.callbacks.Callback):
    """Draws the same latents every epoch: an 8x8 grid (a row of 8 per class, for up to :data:`GRID_CLASSES`
    classes) of the run's images, grey or colour at their size, or a scatter plot of points."""

    def __init__(self, run: RunDir, config: TrainConfig, snapshot: GeneratorSnapshot, contract: ModelContract) -> None:
        super().__init__()
        self.run, self.config, self.snapshot, self.contract = run, config, snapshot, contract
        classes = min(contract.num_classes, GRID_CLASSES)
        if contract.is_image:
            self.latents = latents(8 * classes if classes else GRID_COUNT, config.latent_dim, config.grid_seed)
            self.labels = np.repeat(np.arange(classes), 8).astype(np.int32) if classes else None
            self.scale = 2 if contract.output_shape[0] <= GRID_ZOOM_UP_TO else 1
        else:
            self.latents, self.labels = latents(QUADRATIC_PLOT_COUNT, config.latent_dim, config.grid_seed), None

    def on_epoch_end(self, epoch, logs=None):
        outputs = run_generator(self.snapshot.generator, self.latents, self.contract.num_classes, self.labels)
        if self.contract.is_image:
            picture = make_grid(self.contract.to_uint8(outputs), cols=8, scale=self.scale)
        else:
            from gantool.runtime.points import real_points, scatter_plot

            real = real_points(QUADRATIC_PLOT_COUNT, np.random.default_rng(self.config.grid_seed))
            picture = scatter_plot(outputs, real, title=f"epoch {epoch + 1}")
        save_png(self.run.grid(epoch + 1), picture)


class QualityCheck(keras.callbacks.Callback):
    """Every ``eval_every`` epochs, judges the generator, logs the figures and keeps the best as best.keras
    (only for a run :func:`judged` holds judgeable: the toy's points, or digits)."""

    def __init__(self, run: RunDir, config: TrainConfig, snapshot: GeneratorSnapshot, contract: ModelContract) -> None:
        super().__init__()
        self.run, self.config, self.snapshot, self.contract = run, config, snapshot, contract
        self.names = figure_names(config)
        self.judge = None
        if self.contract.is_image:
            from gantool.judge.evaluate import load_judge

            self.judge = load_judge()

    def figures(self) -> dict:
        z = latents(self.config.eval_count, self.config.latent_dim, EVAL_SEED)
        if not self.contract.is_image:
            from gantool.runtime.points import quadratic_quality

            quality = quadratic_quality(run_generator(self.snapshot.generator, z, 0))
            return {"mean_abs_error": quality.mean_abs_error, "coverage": quality.coverage}
        from gantool.judge.evaluate import evaluate_images

        labels = self.contract.default_labels(len(z))
        images = run_generator(self.snapshot.generator, z, self.contract.num_classes, labels)
        result = evaluate_images(images, *self.judge, labels=labels)
        return {key: getattr(result, key) for key in self.names}

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.config.eval_every:
            logs.update({key: "" for key in self.names})
            return
        figures = {key: round(float(value), 5) for key, value in self.figures().items()}
        logs.update(figures)
        key = self.names[0]
        best = json.loads(self.run.best_info.read_text()) if self.run.best_info.exists() else None
        if best is None or best["epoch"] > epoch + 1 or figures[key] < best.get(key, float("inf")):
            save_keras(self.snapshot.generator, self.run.best)
            write_bytes_atomic(self.run.best_info, json.dumps(
                {"epoch": epoch + 1, "count": self.config.eval_count, **figures}).encode())


class MetricsLog(keras.callbacks.Callback):
    """One metrics.csv row per epoch (losses, D outputs, seconds, quality figures) and TensorBoard scalars."""

    def __init__(self, run: RunDir, config: TrainConfig, judging: bool) -> None:
        super().__init__()
        import tensorflow as tf

        self.run = run
        self.columns = METRIC_NAMES + (figure_names(config) if judging else ())
        self.summary = tf.summary.create_file_writer(str(run.tensorboard))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in METRIC_NAMES}, "seconds": logs["seconds"],
               **{k: logs[k] for k in self.columns if k not in METRIC_NAMES}}
        append_metrics(self.run.metrics, row)
        with self.summary.as_default(step=epoch + 1):
            for key in self.columns:
                if row.get(key) not in (None, ""):
                    tf.summary.scalar(key, float(row[key]))
        self.summary.flush()


class KeepEpochs(keras.callbacks.Callback):
    """Keeps each epoch's generator under RUN/epochs/ (to choose one later)."""

    def __init__(self, run: RunDir, snapshot: GeneratorSnapshot) -> None:
        super().__init__()
        self.run, self.snapshot = run, snapshot

    def on_epoch_end(self, epoch, logs=None):
        save_keras(self.snapshot.generator, self.run.epochs / f"generator_epoch_{epoch + 1:04d}.keras")


class Checkpoint(keras.callbacks.Callback):
    """Saves everything a resumption needs after the epoch's other files (see the module's docstring)."""

    def __init__(self, run: RunDir, config: TrainConfig) -> None:
        super().__init__()
        self.run, self.config = run, config

    def on_epoch_end(self, epoch, logs=None):
        save_checkpoint(self.run.checkpoint, self.model.state_objects(), epoch + 1, self.config)


class ProgressLine(keras.callbacks.Callback):
    """One line per epoch: losses, D outputs, quality figures, seconds and the grid written."""

    def __init__(self, run: RunDir, config: TrainConfig, log: Callable[[str], None]) -> None:
        super().__init__()
        self.run, self.config, self.log = run, config, log
        self.names = figure_names(config)

    def on_epoch_end(self, epoch, logs=None):
        quality = "".join(f" {key} {logs[key]:.3f}" for key in self.names if logs.get(key) not in (None, ""))
        self.log(f"epoch {epoch + 1}/{self.config.epochs}: d_loss {logs['d_loss']:.3f} g_loss {logs['g_loss']:.3f} "
                 f"D(x) {logs['d_real']:.2f} D(G(z)) {logs['d_fake']:.2f}{quality} ({logs['seconds']:.0f} s) "
                 f"-> {self.run.grid(epoch + 1)}")


def epoch_callbacks(run: RunDir, config: TrainConfig, log: Callable[[str], None],
                    contract: ModelContract | None = None) -> list[keras.callbacks.Callback]:
    """The callbacks of a training run, in the order they must run.

    ``contract`` is the run's (:func:`~gantool.train.run_dir.model_contract` of its data): what the grids
    draw and whether the epochs can be judged; None: the arch's own (MNIST's).
    """
    contract = contract or model_contract(config)
    snapshot = GeneratorSnapshot(config, contract)
    callbacks = [LearningRates(config), EpochTimer(), snapshot, SampleGrid(run, config, snapshot, contract)]
    judging = judged(config, contract)
    if judging:
        callbacks.append(QualityCheck(run, config, snapshot, contract))
    elif config.eval_every:
        log("Note: no epoch is judged: `eval_every` judges digits with the shipped MNIST classifier and these "
            "images are not digits (after training: gantool train-classifier --data DIR, then gantool eval "
            "--classifier)")
    callbacks.append(MetricsLog(run, config, judging))
    if config.keep_epochs:
        callbacks.append(KeepEpochs(run, snapshot))
    return callbacks + [Checkpoint(run, config), ProgressLine(run, config, log)]
