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

# A run folder's final generator and its config (the contract inside): what ``gantool train`` writes
# (gantool.train.run_dir reads these names) and what an export of a run folder reads.
RUN_GENERATOR = "generator.keras"
RUN_CONFIG = "config.json"
# What ``--model`` of an export is, for every error that says it was something else.
KERAS_SOURCE = f"export reads the Keras source: a run folder or its {RUN_GENERATOR}"


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
        path = path / RUN_GENERATOR
        if not path.is_file():
            raise ModelFileError(f"{path.parent} has no {RUN_GENERATOR}; finish training or pass the .keras file")
    if not path.exists():
        raise ModelFileError(f"`model` {path} does not exist; {KERAS_SOURCE}")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path} is not a Keras model file (.keras); pass `model`: a run folder or its generator.keras")
    if not zipfile.is_zipfile(path):
        # Keras reports such a file as "File not found"; say what is wrong with it instead.
        raise ModelFileError(f"{path} is not a readable .keras archive (empty, truncated or another kind of file); "
                             "pass the generator.keras that gantool train wrote")
    return path


def load_source(model: str | Path, value_range: tuple[float, float] | None = None):
    """Return ``(keras_model, contract, path)`` for the generator at ``model``.

    ``value_range`` is the output's (low, high) for a model without a gantool ``config.json``; None
    reads it from the output layer (:func:`output_value_range`). A conditional model whose label
    input is ``(batch, 1)`` is wrapped to take labels ``(batch,)``, the runtime's convention.
    """
    path = resolve_model_path(model)  # before importing Keras: a wrong --model fails in a moment
    import keras

    try:
        keras_model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
        raise ModelFileError(f"{path} is not a loadable Keras model ({first_line(exc)})") from None
    contract = contract_for(keras_model, path, value_range)
    return with_flat_labels(keras_model, contract), contract, path


def contract_for(keras_model, path: Path, value_range: tuple[float, float] | None = None) -> ModelContract:
    """The contract from ``config.json`` beside ``path`` (checked against the model's shapes), else
    one read from the model: a latent -> image generator (optionally with an integer class input)."""
    in_shape = tuple(keras_model.inputs[0].shape) if keras_model.inputs else None
    out_shape = tuple(keras_model.outputs[0].shape) if keras_model.outputs else None
    config_file = path.parent / RUN_CONFIG
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
    check_generator_shape(keras_model, path)
    num_classes = label_classes(keras_model, path) if len(keras_model.inputs) == 2 else 0
    read = output_value_range(keras_model)
    if value_range is None:
        if read is None:
            raise ContractError(f"{path}: its output layer is linear, so its value range cannot be read; "
                                "pass `value_range` (e.g. -1,1 for a tanh-like output)")
        value_range = read[0]
    elif read is not None and tuple(map(float, value_range)) != read[0]:
        raise ContractError(f"{path}: its output layer ({read[1]}) gives values in [{read[0][0]:g}, {read[0][1]:g}], "
                            f"not [{value_range[0]:g}, {value_range[1]:g}]; drop `value_range`")
    return ModelContract(value_range=tuple(value_range), arch="keras", latent_dim=int(in_shape[1]),
                         output_shape=tuple(int(d) for d in out_shape[1:]), num_classes=num_classes)


# What a model from outside gantool must be, for every refusal that says it is something else.
EXPECTED = ("a generator mapping a latent (batch, latent_dim) [and an integer class label (batch,)] to square "
            "images (batch, size, size, 1 or 3)")


def check_generator_shape(keras_model, path: Path) -> None:
    """Refuse a model that is not a latent (+ label) -> square image generator, naming what it is."""
    inputs, outputs = list(keras_model.inputs or []), list(keras_model.outputs or [])
    signature = (", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs) + " -> "
                 + ", ".join(str(tuple(t.shape)) for t in outputs))

    def refuse(why: str) -> ContractError:
        return ContractError(f"{path} is not a latent -> image generator ({why}: {signature}); expected {EXPECTED}")

    if len(outputs) != 1:
        raise refuse(f"{len(outputs)} outputs")
    if not 1 <= len(inputs) <= 2:
        raise refuse(f"{len(inputs)} inputs")
    latent = inputs[0]
    if len(latent.shape) != 2 or latent.shape[1] is None or "float" not in str(latent.dtype):
        raise refuse("its first input is not a float latent vector")
    if len(inputs) == 2:
        label = inputs[1]
        if "int" not in str(label.dtype) or tuple(label.shape[1:]) not in ((), (1,)):
            raise refuse("its second input is not an integer class label")
    shape = tuple(outputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise refuse(f"its output is {len(shape)}-D, not an image")
    if shape[0] != shape[1]:
        raise refuse(f"its output is {shape[0]}x{shape[1]}, not square")
    if shape[2] not in (1, 3):
        raise refuse(f"its output has {shape[2]} channels, not 1 (grey) or 3 (RGB)")


def label_classes(keras_model, path: Path) -> int:
    """The number of classes of a conditional model's label input: the ``input_dim`` of its Embedding."""
    import keras

    sizes = {layer.input_dim for layer in iter_layers(keras_model) if isinstance(layer, keras.layers.Embedding)}
    if len(sizes) != 1:
        raise ContractError(f"{path} takes a class label but has {len(sizes) or 'no'} Embedding layer(s) to read "
                            f"its number of classes from; expected {EXPECTED}")
    return int(sizes.pop())


def iter_layers(model):
    """Every layer of ``model``, nested models' layers included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from iter_layers(layer)


# The ranges of bounded output activations (Keras names).
ACTIVATION_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0),
                     "hard_tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0)}
# Layers that move or drop values but never make new ones: the range passes through them.
RANGE_KEEPING = ("Reshape", "Cropping2D", "Flatten", "Permute", "Dropout", "Identity", "InputLayer")


def output_value_range(keras_model) -> tuple[tuple[float, float], str] | None:
    """``((low, high), what)`` the model's output can take, read from its last layers; None when linear.

    Walks back from the output through layers that keep values (Reshape, Cropping2D, ...), applies a
    ``Rescaling`` (scale, offset), and stops at the first activation: tanh -> [-1, 1], sigmoid -> [0, 1].
    """
    import keras

    layer, rescale = _output_layer(keras_model), []
    while layer is not None:
        if isinstance(layer, keras.Model):
            layer = _output_layer(layer)
            continue
        kind = type(layer).__name__
        if kind == "Rescaling":
            rescale.append((float(layer.scale), float(layer.offset)))
        elif kind not in RANGE_KEEPING:
            activation = getattr(layer, "activation", None)
            name = getattr(activation, "__name__", str(activation or "linear"))
            if name not in ACTIVATION_RANGES:
                return None
            low, high = ACTIVATION_RANGES[name]
            what = name
            for scale, offset in reversed(rescale):
                low, high = sorted((low * scale + offset, high * scale + offset))
                what += f" then Rescaling({scale:g}, {offset:g})"
            return (low, high), what
        layer = _previous_layer(layer)
    return None


def _output_layer(model):
    history = getattr(model.outputs[0], "_keras_history", None) if model.outputs else None
    return history.operation if history is not None else (model.layers[-1] if model.layers else None)


def _previous_layer(layer):
    """The one layer feeding ``layer``, or None (several inputs, or the model's input)."""
    try:
        tensor = layer.input
    except (AttributeError, ValueError):
        return None
    if isinstance(tensor, list | tuple):
        return None
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def with_flat_labels(keras_model, contract: ModelContract):
    """``keras_model`` taking labels ``(batch,)`` when its label input is ``(batch, 1)`` (else itself)."""
    if not contract.conditional or tuple(keras_model.inputs[1].shape[1:]) == ():
        return keras_model
    import keras

    z = keras.Input((contract.latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    column = keras.layers.Reshape((1,))(label)
    return keras.Model([z, label], keras_model([z, column]), name=f"{keras_model.name}_flat_labels")
