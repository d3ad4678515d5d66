"""Load the Keras generator to export, and its contract.

``--model`` may be a gantool run folder, its ``generator.keras``, or any Keras
file mapping a latent vector to an image (e.g. the TensorFlow DCGAN tutorial's
own ``Sequential``). Without a gantool ``config.json`` beside it, the contract
comes from the model's input and output shapes and the given value range.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from gantool.errors import ContractError, ModelFileError, first_line
from gantool.runtime.contract import ModelContract

# What ``--model`` of an export is, for every error that says it was something else.
KERAS_SOURCE = "export reads the Keras source: a run folder or its generator.keras"


def resolve_model_path(model: str | Path) -> Path:
    """The ``.keras`` file ``model`` names (a run folder means its ``generator.keras``).

    Raises:
        ModelFileError: ``model`` is missing, an exported model (or a bundled name), or no Keras archive.
    """
    from gantool.runtime.backends import file_kind
    from gantool.runtime.generator import BUNDLED

    if str(model) in BUNDLED:
        raise ModelFileError(f"`model` {model} names an exported ONNX model, which cannot be exported again; "
                             f"{KERAS_SOURCE}")
    path = Path(model)
    if file_kind(path) is not None:
        raise ModelFileError(f"`model` {path} is an exported model already; {KERAS_SOURCE}")
    if path.is_dir():
        path = path / "generator.keras"
        if not path.is_file():
            raise ModelFileError(f"{path.parent} has no generator.keras; finish training or pass the .keras file")
    if not path.exists():
        raise ModelFileError(f"`model` {path} does not exist; {KERAS_SOURCE}")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path} is not a Keras model file (.keras); pass `model`: a run folder or its generator.keras")
    if not zipfile.is_zipfile(path):
        # Keras reports such a file as "File not found"; say what is wrong with it instead.
        raise ModelFileError(f"{path} is not a readable .keras archive (empty, truncated or another kind of file); "
                             "pass the generator.keras that gantool train wrote")
    return path


def load_source(model: str | Path, value_range: tuple[float, float] = (-1.0, 1.0)):
    """Return ``(keras_model, contract, path)`` for the generator at ``model``."""
    path = resolve_model_path(model)  # before importing Keras: a wrong --model fails in a moment
    import keras

    try:
        keras_model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
        raise ModelFileError(f"{path} is not a loadable Keras model ({first_line(exc)})") from None
    return keras_model, contract_for(keras_model, path, value_range), path


def contract_for(keras_model, path: Path, value_range: tuple[float, float]) -> ModelContract:
    """The contract from ``config.json`` beside ``path`` (checked against the model's shapes), else
    one inferred from the shapes of a one-input latent -> image model."""
    in_shape = tuple(keras_model.inputs[0].shape) if keras_model.inputs else None
    out_shape = tuple(keras_model.outputs[0].shape) if keras_model.outputs else None
    config_file = path.parent / "config.json"
    if config_file.is_file():
        try:
            saved = json.loads(config_file.read_text())["contract"]
        except (ValueError, KeyError, TypeError):
            raise ContractError(f"{config_file} is not a gantool run config; move it away or fix it") from None
        contract = ModelContract.from_dict(saved)
        inputs = len(keras_model.inputs or [])
        if (in_shape is None or out_shape is None or in_shape[1:] != (contract.latent_dim,)
                or out_shape[1:] != contract.output_shape or inputs != 1 + contract.conditional):
            raise ContractError(f"{config_file} does not describe {path.name} (shapes differ)")
        return contract
    if (in_shape is None or len(keras_model.inputs) != 1 or len(in_shape) != 2 or len(out_shape) != 4
            or None in in_shape[1:] + out_shape[1:]):
        raise ContractError(
            f"{path}: expected a generator mapping (batch, latent_dim) to (batch, height, width, channels), "
            f"got {in_shape} -> {out_shape}; a model with other inputs or outputs needs the config.json "
            "gantool train writes beside it"
        )
    return ModelContract(value_range=value_range, arch="keras", latent_dim=int(in_shape[1]),
                         output_shape=tuple(int(d) for d in out_shape[1:]))
