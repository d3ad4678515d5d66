"""``gantool train``'s engine: check the request, build the GAN, and run one ``fit()``.

Determinism: each epoch's data order is drawn from ``(seed, epoch)``, the noise and dropout
streams are variables saved in the checkpoint, and TensorFlow's op determinism is on, so on
CPU a resumed run ends with the same weights as an uninterrupted one.

The rest lives beside it: the run folder (:mod:`~gantool.train.run_dir`), the data
(:mod:`~gantool.train.run_data`: MNIST or your own images), the GAN (:mod:`~gantool.train.build`,
:mod:`~gantool.train.gan`), and what each epoch leaves behind (:mod:`~gantool.train.callbacks`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gantool.errors import GantoolError
from gantool.runtime.files import write_bytes_atomic
from gantool.runtime.images import save_gif
from gantool.train.checkpoint import load_checkpoint, read_checkpoint_meta
from gantool.train.config import TrainConfig
from gantool.train.device import Device
from gantool.train.run_data import load_run_data
from gantool.train.run_dir import RunDir, model_contract, resume_history, save_keras

__all__ = ["RunDir", "train"]


def train(config: TrainConfig, out: Path, data: str | None = None, resume: bool = False, log=print,
          stop_after: int | None = None, device: Device | None = None, data_changed_ok: bool = False) -> RunDir:
    """Train the GAN described by ``config`` (any arch of :mod:`gantool.train.archs`) into the run folder ``out``.

    ``data`` is MNIST or a folder of images (:mod:`~gantool.train.run_data` says which and how);
    ``data_changed_ok`` lets ``resume`` go on with images that changed since the run started.
    ``stop_after`` ends the session after that epoch's checkpoint, on the full ``config.epochs``
    schedule (learning-rate decay included), so that ``resume`` later continues the same run.
    ``device`` overrides :func:`gantool.train.device.detect_device` (tests run the GPU paths on a CPU).

    One phase of a recipe: :func:`~gantool.train.recipes.run_recipe` calls it once per phase, holding
    the run folder's lock (:mod:`~gantool.train.run_lock`) across all of them.

    Raises:
        GantoolError: bad data, an existing run without ``resume``, or a checkpoint
            that does not match ``config``.
    """
    run = RunDir(Path(out))
    saved_epoch, saved_config = _check_request(config, run, resume, stop_after)
    training_data = load_run_data(config, run, data, resume, saved_epoch, data_changed_ok, log)
    for folder in (run.root, run.samples, run.checkpoint.parent, run.epochs):
        folder.mkdir(parents=True, exist_ok=True)

    from gantool.train.build import build_gan
    from gantool.train.callbacks import epoch_callbacks
    from gantool.train.device import detect_device
    from gantool.train.snapshot import float32_generator

    device = device or detect_device()
    shape = training_data.model_shape(config)
    log(f"Training {config.arch} on {device.description}; data {training_data.source}")
    gan = build_gan(config, device, shape)
    start_epoch = load_checkpoint(run.checkpoint, gan.state_objects()) if resume else 0
    if resume:
        log(f"Resumed from {run.checkpoint} after epoch {start_epoch}")
    resumes = resume_history(run, start_epoch, config, saved_config) if resume else []
    contract = model_contract(config, resumes, shape=shape, dataset=training_data.dataset,
                              class_names=training_data.class_names)
    saved = {"training": config.to_dict(), "contract": contract.to_dict()}
    if training_data.record is not None:
        saved["data"] = training_data.record
    write_bytes_atomic(run.config, json.dumps(saved, indent=2).encode())
    last_epoch = config.epochs if stop_after is None else stop_after
    if start_epoch < last_epoch:
        gan.fit(training_data.training_dataset(config, start_epoch, last_epoch), epochs=last_epoch,
                initial_epoch=start_epoch, steps_per_epoch=training_data.steps_per_epoch(config),
                callbacks=epoch_callbacks(run, config, log, contract), verbose=1 if sys.stdout.isatty() else 2,
                shuffle=False)
    save_keras(float32_generator(gan, config, shape), run.generator)
    frames = [run.grid(e) for e in range(1, last_epoch + 1) if run.grid(e).exists()]
    if frames:
        save_gif(run.gif, frames)
    return run


def _check_request(config: TrainConfig, run: RunDir, resume: bool,
                   stop_after: int | None) -> tuple[int, TrainConfig | None]:
    """Refuse a request that cannot run in ``run``; return the epoch and config of its checkpoint (``resume``)."""
    if stop_after is not None and not 0 < stop_after <= config.epochs:
        raise GantoolError(f"`stop_after` must be an epoch in [1, `epochs`={config.epochs}], got {stop_after}")
    if run.checkpoint.exists() and not resume:
        raise GantoolError(f"{run.root} already holds a training run; pass `resume` to continue it or choose another `out`")
    if not resume:
        return 0, None
    saved_epoch, saved_config = read_checkpoint_meta(run.checkpoint)
    config.check_resumable_from(saved_config)
    # A run killed after its last checkpoint but before generator.keras and the GIF (written
    # last) were (re)written is not finished: resuming it writes them from that checkpoint.
    finished = all(path.is_file() and path.stat().st_mtime_ns >= run.checkpoint.stat().st_mtime_ns
                   for path in (run.generator, run.gif))
    if saved_epoch > config.epochs or (saved_epoch == config.epochs and finished):
        raise GantoolError(f"{run.root} already finished {saved_epoch} epochs; raise `epochs` to train further")
    if stop_after is not None and stop_after <= saved_epoch:
        raise GantoolError(f"{run.root} already trained {saved_epoch} epochs; `stop_after` {stop_after} has nothing to do")
    # A new decay start applies to the epochs still to train (a decay over them, or a warm
    # restart at the full rate after an earlier decay); the change is recorded in "resumes".
    if config.lr_decay_start != saved_config.lr_decay_start and 0 < config.lr_decay_start < saved_epoch:
        raise GantoolError(f"`lr_decay_start` can only change to an epoch >= {saved_epoch}, the epochs already trained")
    return saved_epoch, saved_config
