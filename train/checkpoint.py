"""Training checkpoints: every variable of both networks, both optimizers and the noise stream.

One ``.npz`` per checkpoint (no pickle), written to a temporary file and
renamed, so a crash at any moment leaves either the previous checkpoint or
the new one, never a torn file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from gantool.errors import CheckpointError
from gantool.runtime.files import atomic_path
from gantool.train.config import TrainConfig

CHECKPOINT_NAME = "last.npz"


def _variables(obj) -> list:
    """The ordered variables of a model, optimizer or seed generator."""
    if hasattr(obj, "variables"):
        return list(obj.variables)
    return [obj.state]


def save_checkpoint(path: Path, state_objects: dict, epoch: int, config: TrainConfig) -> None:
    """Write all variables plus the completed ``epoch`` and the config, atomically."""
    arrays: dict[str, np.ndarray] = {
        "meta/epoch": np.array(epoch, dtype=np.int64),
        "meta/config": np.array(config.to_json()),
    }
    for name, obj in state_objects.items():
        for index, variable in enumerate(_variables(obj)):
            arrays[f"{name}/{index:04d}"] = np.asarray(variable.numpy())
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def read_checkpoint_meta(path: Path) -> tuple[int, TrainConfig]:
    """Return (completed epoch, training config) of a checkpoint without loading weights."""
    with _open(path) as npz:
        try:
            return int(npz["meta/epoch"]), TrainConfig.from_dict(_json(npz["meta/config"]))
        except KeyError:
            raise CheckpointError(f"{path} is not a gantool checkpoint (no meta/epoch); start a new run") from None


def load_checkpoint(path: Path, state_objects: dict) -> int:
    """Assign every saved variable; return the completed epoch. Checks counts and shapes first."""
    with _open(path) as npz:
        try:
            arrays = {key: npz[key] for key in npz.files}
        except Exception as exc:  # zipfile, zlib and numpy each raise their own type
            raise CheckpointError(f"checkpoint {path} is corrupt ({type(exc).__name__}); delete it and retrain") from None
    if "meta/epoch" not in arrays:
        raise CheckpointError(f"{path} is not a gantool checkpoint (no meta/epoch); start a new run")
    for name, obj in state_objects.items():
        variables = _variables(obj)
        saved = sorted(k for k in arrays if k.startswith(f"{name}/"))
        if len(saved) != len(variables):
            raise CheckpointError(f"{path}: {name} has {len(saved)} saved variables, the model has {len(variables)}")
        for key, variable in zip(saved, variables):
            if tuple(arrays[key].shape) != tuple(variable.shape):
                raise CheckpointError(f"{path}: {key} has shape {arrays[key].shape}, expected {tuple(variable.shape)}")
    for name, obj in state_objects.items():
        saved = sorted(k for k in arrays if k.startswith(f"{name}/"))
        for key, variable in zip(saved, _variables(obj)):
            variable.assign(arrays[key])
    return int(arrays["meta/epoch"])


def _json(value: np.ndarray) -> dict:
    import json

    return json.loads(str(value))


def _open(path: Path):
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; run without --resume to start training")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or partial ({type(exc).__name__}); delete it and retrain") from None
