"""Training checkpoints: every variable of both networks, both optimizers and the noise stream.

One ``.npz`` per checkpoint (no pickle), written to a temporary file and
renamed, so a crash at any moment leaves either the previous checkpoint or
the new one, never a torn file.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from gantool.errors import CheckpointError
from gantool.runtime.files import atomic_path, deferred_interrupt, remove_stale_temporaries
from gantool.train.config import TrainConfig

CHECKPOINT_NAME = "last.npz"
# What reading a damaged .npz raises: a torn zip, a bad CRC, a bad deflate stream, a truncated
# member, or (ValueError) an object array that allow_pickle=False refuses to unpickle.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)


def _variables(obj) -> list:
    """The ordered variables of a model, optimizer or seed generator."""
    if hasattr(obj, "variables"):
        return list(obj.variables)
    return [obj.state]


def save_checkpoint(path: Path, state_objects: dict, epoch: int, config: TrainConfig) -> None:
    """Write all variables plus the completed ``epoch`` and the config, atomically.

    Ctrl-C during the save is held until the file is in place, so it stops training
    after this epoch instead of discarding it; temporaries of saves killed earlier
    (SIGKILL, power loss) are removed first.
    """
    with deferred_interrupt():
        arrays: dict[str, np.ndarray] = {
            "meta/epoch": np.array(epoch, dtype=np.int64),
            "meta/config": np.array(config.to_json()),
        }
        for name, obj in state_objects.items():
            for index, variable in enumerate(_variables(obj)):
                arrays[f"{name}/{index:04d}"] = np.asarray(variable.numpy())
        remove_stale_temporaries(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)


def read_checkpoint_meta(path: Path) -> tuple[int, TrainConfig]:
    """Return (completed epoch, training config) of a checkpoint without loading weights."""
    with _open(path) as npz:
        if "meta/epoch" not in npz.files or "meta/config" not in npz.files:
            raise CheckpointError(f"{path} is not a gantool checkpoint (no meta/epoch); start a new run")
        try:
            epoch, config = int(npz["meta/epoch"]), _json(npz["meta/config"])
        except READ_ERRORS as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt ({_reason(exc)}); delete it and retrain") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {path} has a malformed training config; delete it and retrain")
    return epoch, TrainConfig.from_dict(config)


def load_checkpoint(path: Path, state_objects: dict) -> int:
    """Assign every saved variable; return the completed epoch. Checks counts and shapes first."""
    with _open(path) as npz:
        try:
            arrays = {key: npz[key] for key in npz.files}
        except READ_ERRORS as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt ({_reason(exc)}); delete it and retrain") from None
    if "meta/epoch" not in arrays:
        raise CheckpointError(f"{path} is not a gantool checkpoint (no meta/epoch); start a new run")
    for name, obj in state_objects.items():
        variables = _variables(obj)
        saved = sorted(k for k in arrays if k.startswith(f"{name}/"))
        if len(saved) != len(variables):
            raise CheckpointError(f"{path}: {name} has {len(saved)} saved variables, the model has {len(variables)} "
                                  "(a partial checkpoint, or another model's); delete it and retrain")
        for key, variable in zip(saved, variables, strict=False):
            if tuple(arrays[key].shape) != tuple(variable.shape):
                raise CheckpointError(f"{path}: {key} has shape {arrays[key].shape}, expected {tuple(variable.shape)}")
    for name, obj in state_objects.items():
        saved = sorted(k for k in arrays if k.startswith(f"{name}/"))
        for key, variable in zip(saved, _variables(obj), strict=False):
            variable.assign(arrays[key])
    return int(arrays["meta/epoch"])


def _json(value: np.ndarray) -> dict:
    import json

    if value.dtype.kind != "U" or value.ndim != 0:
        raise TypeError(f"meta/config is {value.dtype} {value.shape}, not a JSON string")
    return json.loads(str(value))


def _reason(exc: BaseException) -> str:
    """A short cause for the one-line error; an object array gets its own words (gantool never writes one)."""
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        return "it holds a pickled object array, which gantool never writes and will not load"
    return f"{type(exc).__name__}: {str(exc)[:100]}" if str(exc) else type(exc).__name__


def _open(path: Path):
    if path.exists() and not path.is_file():
        raise CheckpointError(f"{path} is not a file; move it away and resume again")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; start training without `resume`")
    if not zipfile.is_zipfile(path):  # numpy would call any non-zip file "pickled data"
        raise CheckpointError(f"checkpoint {path} is corrupt or partial (not an .npz archive); delete it and retrain")
    try:
        return np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or partial ({_reason(exc)}); delete it and retrain") from None
