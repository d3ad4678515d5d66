"""A training run's folder: its files, its metrics table, and the contract it records."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from gantool.export.source import RUN_CONFIG, RUN_GENERATOR
from gantool.runtime.contract import ModelContract
from gantool.runtime.files import write_bytes_atomic
from gantool.train.archs import ModelShape
from gantool.train.checkpoint import CHECKPOINT_NAME
from gantool.train.config import CODE_SIZE, TrainConfig
from gantool.train.run_lock import LOCK_NAME


class RunDir:
    """The files of one training run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checkpoint = root / "checkpoints" / CHECKPOINT_NAME
        self.samples = root / "samples"
        self.epochs = root / "epochs"
        self.metrics = root / "metrics.csv"
        self.config = root / RUN_CONFIG
        self.generator = root / RUN_GENERATOR
        self.gif = root / "progress.gif"
        self.best = root / "best.keras"
        self.best_info = root / "best.json"
        self.tensorboard = root / "tensorboard"
        self.lock = root / LOCK_NAME  # held by run_recipe for the whole training (train/run_lock.py)

    def grid(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:04d}.png"


def model_contract(config: TrainConfig, resumes: list | None = None, *, shape: ModelShape | None = None,
                   dataset: str | None = None, class_names: tuple[str, ...] = ()) -> ModelContract:
    """The contract of the run's generator; ``resumes`` (recipe changes at resumptions) joins its training record.

    What the run trains on (:class:`~gantool.train.run_data.RunData`) gives ``shape`` (what the generator
    draws: image shape and label classes), ``dataset`` (``images`` for your own) and ``class_names``, kept
    only for a model that draws a class (a label input, or a latent that names it); None or empty: the
    arch's own (MNIST's).
    """
    spec = config.spec
    shape = shape or spec.model_shape()
    training = config.to_dict()
    if resumes:
        training["resumes"] = resumes
    draws_classes = bool(shape.num_classes or config.names_digit)
    return ModelContract(latent_dim=config.latent_dim, output_shape=shape.output_shape,
                         value_range=spec.value_range, arch=config.arch, output_kind=spec.output_kind,
                         num_classes=shape.num_classes, dataset=dataset or spec.dataset, training=training,
                         digit_code=CODE_SIZE if config.names_digit else 0,
                         class_names=tuple(class_names) if draws_classes else ())


def resume_history(run: RunDir, epoch: int, config: TrainConfig, saved: TrainConfig) -> list:
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


def save_keras(model, path: Path) -> None:
    from gantool.runtime.files import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)


def read_metrics(path: Path, up_to_epoch: int | None = None) -> list[dict]:
    """Rows of metrics.csv (epochs after ``up_to_epoch`` dropped: they were not checkpointed)."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if up_to_epoch is None or int(r["epoch"]) <= up_to_epoch]


def append_metrics(path: Path, row: dict) -> None:
    """Write ``row`` as the last line of metrics.csv (rows of later, uncheckpointed epochs dropped)."""
    rows = read_metrics(path, up_to_epoch=row["epoch"] - 1) + [row]
    buffer = io.StringIO()
    fields = list(dict.fromkeys(key for r in rows for key in r))
    writer = csv.DictWriter(buffer, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buffer.getvalue().encode())
