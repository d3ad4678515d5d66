"""The model contract: what a generator takes and gives, carried inside every model file.

The contract is the single source of truth the runtime reads; it never guesses
latent size or value range. It is stored as one JSON document under the
metadata key :data:`METADATA_KEY` (ONNX ``metadata_props``; the TFLite
metadata buffer of the same name) and as ``config.json`` next to a training run.
A file made by another tool has none: :func:`contract_from_graph` reads what
its graph says, assumes only the value range, and says so (:func:`inferred_note`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from gantool import __version__
from gantool.conventions import DEFAULT_VALUE_RANGE
from gantool.errors import ContractError

METADATA_KEY = "gantool.contract"
# ONNX metadata entry naming the graph's kind: plain, optimized or optimized+fourier (see gantool.export).
GRAPH_METADATA_KEY = "gantool.graph"
# How an ONNX float graph was chosen among its candidates (JSON; gantool.export.graph_choice).
GRAPH_CHOICE_METADATA_KEY = "gantool.graph_choice"
# onnxruntime settings an export's rules chose for the graph, which the runtime applies when it opens
# the file (JSON: {"disabled_optimizers": [...], "rule": ..., "reason": ...}; gantool.export.graph_rules).
SESSION_METADATA_KEY = "gantool.onnxruntime"
CONTRACT_VERSION = 1
# Metadata is parsed as data, never executed; a bound keeps a hostile file from
# making the parser allocate without limit.
MAX_METADATA_BYTES = 1_000_000

LATENT_CONVENTION = (
    "numpy.random.default_rng(seed).standard_normal((count, latent_dim), dtype=numpy.float32)"
)


# One MNIST digit's shape (height, width, channels): what `gantool eval` and the classifier take.
DIGIT_SHAPE = (28, 28, 1)
LABEL_CONVENTION = "numpy.arange(count) % num_classes (unless labels are asked for)"
OUTPUT_KINDS = {
    # kind -> rank of one sample's shape, and what it is
    "image": 3,   # (height, width, channels), NHWC batches
    "points": 1,  # (dims,): one point per sample, e.g. (x, y)
}


def default_labels(count: int, num_classes: int) -> np.ndarray:
    """Labels of the documented convention for a conditional model: 0, 1, ..., C-1, 0, 1, ..."""
    return (np.arange(count) % num_classes).astype(np.int32)


def check_seed(seed: int) -> int:
    """Return ``seed`` if numpy can seed with it (a non-negative integer), else raise a ContractError.

    numpy's own error ("expected non-negative integer") names neither the parameter nor the fix.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ContractError(f"`seed` must be a non-negative integer, got {seed!r}")
    return int(seed)


def latents(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """Draw the latent batch of the documented convention.

    Goldens, grids and every format's parity checks depend on this exact call:
    ``numpy.random.default_rng(seed).standard_normal((count, latent_dim), dtype=float32)``.
    """
    if count <= 0:
        raise ContractError(f"count must be a positive integer, got {count}")
    rng = np.random.default_rng(check_seed(seed))
    return rng.standard_normal((count, latent_dim), dtype=np.float32)


def name_digit(z: np.ndarray, digit: int, code_size: int) -> np.ndarray:
    """``z`` with each row's first ``code_size`` components permuted so that their argmax is ``digit``.

    The largest code component swaps places with component ``digit`` (rows that already name it
    stay as they are). Swapping is a permutation of i.i.d. normals, so the result is distributed
    exactly as latents of the convention that happen to name ``digit``.
    """
    z = np.array(z, dtype=np.float32, copy=True)
    rows = np.arange(len(z))
    top = np.argmax(z[:, :code_size], axis=1)
    z[rows, top], z[rows, digit] = z[rows, digit], z[rows, top]
    return z



@dataclasses.dataclass(frozen=True)
class ModelContract:
    """What a generator file takes and gives.

    One contract covers every generator gantool trains: what differs between
    them is data here (output kind and shape, whether a class label is an
    input), not special cases in the runtime.

    Args:
        latent_dim: length of the latent vector ``z`` (input shape ``(batch, latent_dim)``).
        output_shape: one sample's shape: ``(height, width, channels)`` for images (NHWC),
            ``(dims,)`` for points.
        value_range: the (low, high) range of output values (tanh: -1..1). For points it is
            the plotting window of every coordinate.
        arch: the architecture name (``dcgan``, ``mlp``, ``cdcgan``, ``quadratic``...).
        input_name: name of the latent input.
        output_name: name of the graph output.
        quantization: ``none``, ``fp16``, ``int8`` or ``dynamic``.
        calibration_size: latents used to calibrate a quantized export, else 0.
        gantool_version: the gantool that wrote the file.
        latent_convention: how latents are drawn for a seed (see :data:`LATENT_CONVENTION`).
        training: the training configuration, as saved by ``gantool train``.
        evaluation: quality figures measured on this model, if any.
        output_kind: ``image`` or ``points`` (see :data:`OUTPUT_KINDS`).
        num_classes: for a conditional generator, the number of classes of its int32
            ``label_name`` input of shape ``(batch,)``; 0 for an unconditional one.
        label_name: name of the class-label input of a conditional generator.
        dataset: what the model was trained on (``mnist``, ``quadratic``...).
        digit_code: for an unconditional generator trained to draw the digit its latent names
            (``gantool train``'s ``aux_sharpen="code"``), how many leading latent components
            name it (their argmax): ``gantool sample --digit`` then sets the latent instead of
            filtering (:func:`name_digit`). 0: the latent names no digit.
        float_ops: operator types a quantized export left in float (e.g. ``FULLY_CONNECTED``);
            empty when every quantizable operator was quantized.
        class_names: the names of the classes a labeled model draws, in label order (a model trained
            on a folder with one sub-folder per class: the sub-folders' names, sorted); empty for
            MNIST models (their classes are the digits 0-9) and unlabeled ones.
    """

    latent_dim: int
    output_shape: tuple[int, ...]
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE
    arch: str = "dcgan"
    input_name: str = "z"
    output_name: str = "image"
    quantization: str = "none"
    calibration_size: int = 0
    gantool_version: str = __version__
    latent_convention: str = LATENT_CONVENTION
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    evaluation: dict[str, Any] = dataclasses.field(default_factory=dict)
    output_kind: str = "image"
    num_classes: int = 0
    label_name: str = "label"
    dataset: str = "mnist"
    float_ops: tuple[str, ...] = ()
    digit_code: int = 0
    class_names: tuple[str, ...] = ()
    contract_version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.latent_dim, int) or self.latent_dim <= 0:
            raise ContractError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if self.output_kind not in OUTPUT_KINDS:
            raise ContractError(f"output_kind must be one of {sorted(OUTPUT_KINDS)}, got {self.output_kind!r}")
        if not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ContractError(f"num_classes must be a non-negative integer, got {self.num_classes!r}")
        if not isinstance(self.digit_code, int) or not 0 <= self.digit_code <= self.latent_dim or (
                self.digit_code and self.conditional):
            raise ContractError(f"digit_code must be 0 or, for an unconditional generator, a count of latent "
                                f"components up to latent_dim {self.latent_dim}; got {self.digit_code!r}")
        shape = tuple(self.output_shape)
        if len(shape) != OUTPUT_KINDS[self.output_kind] or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ContractError(f"output_shape of an {self.output_kind} model must have "
                                f"{OUTPUT_KINDS[self.output_kind]} positive dimensions, got {self.output_shape!r}")
        names = tuple(self.class_names)
        if not all(isinstance(name, str) and name for name in names) or len(set(names)) != len(names):
            raise ContractError(f"class_names must be distinct non-empty strings, got {self.class_names!r}")
        classes = self.num_classes or self.digit_code
        if names and len(names) != classes:
            raise ContractError(f"class_names names {len(names)} classes but the model has {classes}")
        object.__setattr__(self, "class_names", names)
        low, high = (float(v) for v in self.value_range)
        if not low < high:
            raise ContractError(f"value_range must be (low, high) with low < high, got {self.value_range!r}")
        object.__setattr__(self, "output_shape", shape)
        object.__setattr__(self, "value_range", (low, high))

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One sample's shape (the name image models have always used)."""
        return self.output_shape

    @property
    def conditional(self) -> bool:
        """True when the generator also takes a class label."""
        return self.num_classes > 0

    @property
    def is_image(self) -> bool:
        return self.output_kind == "image"

    @property
    def draws_digits(self) -> bool:
        """True for a model of MNIST's shape (28x28, one channel): what the shipped classifier can judge."""
        return self.is_image and tuple(self.output_shape) == DIGIT_SHAPE

    @property
    def classes_are_digits(self) -> bool:
        """True when a class index is the digit it draws: no class names (MNIST's classes), or the names
        ``"0"``, ``"1"``, ... in label order (a folder of digits)."""
        return self.class_names == tuple(str(i) for i in range(len(self.class_names)))

    @property
    def is_digit_model(self) -> bool:
        """True for a model of digits: MNIST's shape, and classes that are digits (named so, or MNIST's own)."""
        return self.draws_digits and self.classes_are_digits and (bool(self.class_names) or self.dataset == "mnist")

    def class_word(self, label: int) -> str:
        """How to name class ``label`` to a person: its name, or the digit."""
        return self.class_names[label] if self.class_names else str(label)

    def default_labels(self, count: int) -> np.ndarray | None:
        """Labels of the documented convention for ``count`` samples (None when unconditional)."""
        return default_labels(count, self.num_classes) if self.conditional else None

    def check_labels(self, labels, count: int) -> np.ndarray | None:
        """Validate class labels for ``count`` samples (int32), or draw the default ones."""
        if not self.conditional:
            if labels is not None:
                raise ContractError("this generator is unconditional; it takes no class labels")
            return None
        if labels is None:
            return self.default_labels(count)
        labels = np.asarray(labels)
        if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
            raise ContractError(f"labels must be {count} integers, got shape {labels.shape} of {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ContractError(f"labels must be in 0..{self.num_classes - 1}")
        return labels.astype(np.int32)

    def replace(self, **changes: Any) -> ModelContract:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["output_shape"] = list(self.output_shape)
        data["value_range"] = list(self.value_range)
        data["float_ops"] = list(self.float_ops)
        data["class_names"] = list(self.class_names)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelContract:
        if not isinstance(data, dict):
            raise ContractError("the model contract must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            kwargs = {k: v for k, v in data.items() if k in known}
            # Files written before contracts covered points and labels say image_shape.
            shape = kwargs.get("output_shape", data.get("image_shape"))
            if not isinstance(shape, (list, tuple)):
                raise KeyError("output_shape")
            kwargs["output_shape"] = tuple(shape)
            kwargs["value_range"] = tuple(kwargs.get("value_range", DEFAULT_VALUE_RANGE))
            kwargs["float_ops"] = tuple(kwargs.get("float_ops", ()))
            kwargs["class_names"] = tuple(kwargs.get("class_names", ()))
            return cls(**kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ContractError):
                raise
            raise ContractError(f"the model contract is incomplete or malformed ({exc})") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelContract:
        if len(text) > MAX_METADATA_BYTES:
            raise ContractError(f"the model contract is larger than {MAX_METADATA_BYTES} bytes; refusing to parse it")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ContractError(f"the model contract is not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def to_uint8(self, images: np.ndarray) -> np.ndarray:
        """Map float images in :attr:`value_range` to uint8 pixels (rounded, clipped)."""
        low, high = self.value_range
        scaled = (images.astype(np.float32) - low) * (255.0 / (high - low))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


# A graph cannot say its value range; a model without gantool metadata is assumed to end in
# tanh, as the DCGAN paper's generator and the TensorFlow tutorial's do.
ASSUMED_VALUE_RANGE = DEFAULT_VALUE_RANGE


@dataclasses.dataclass(frozen=True)
class GraphTensor:
    """A graph input or output as its engine reports it, in words every backend shares.

    Args:
        name: the tensor's name.
        shape: its dimensions; None where the graph leaves a size open (usually the batch).
        dtype: numpy's name of its element type (``float32``), or the engine's when numpy has none.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def describe(self) -> str:
        return f"{self.name} (" + ", ".join("?" if d is None else str(d) for d in self.shape) + f") {self.dtype}"


def contract_from_graph(path, inputs: list[GraphTensor], outputs: list[GraphTensor]) -> tuple[ModelContract, bool]:
    """The contract of a model file without gantool metadata, read from its graph's inputs and outputs.

    Only a graph that says everything but the value range qualifies: one float32
    input ``(batch, latent_dim)`` and one float32 output ``(batch, height, width,
    channels)`` or ``(batch, height, width)``, all sizes but the batch fixed.
    The value range is :data:`ASSUMED_VALUE_RANGE`; ``gantool info`` shows arch
    and gantool version ``unknown`` for such a file. Every backend applies this
    one rule (ONNX and TFLite alike).

    Args:
        path: the model file, for messages.
        inputs: the graph's inputs.
        outputs: the graph's outputs.

    Returns:
        The contract, and True when the output has no channel axis (the backend adds one).

    Raises:
        ContractError: the graph is not such a generator.
    """
    def fixed(dims) -> bool:
        return all(isinstance(d, int) and d > 0 for d in dims)

    if not (len(inputs) == 1 and len(outputs) == 1 and inputs[0].dtype == outputs[0].dtype == "float32"
            and len(inputs[0].shape) == 2 and len(outputs[0].shape) in (3, 4)
            and fixed(inputs[0].shape[1:]) and fixed(outputs[0].shape[1:])):
        graph = ", ".join(t.describe() for t in inputs) + " -> " + ", ".join(t.describe() for t in outputs)
        raise ContractError(
            f"{path} has no gantool contract in its metadata and its graph ({graph}) is not a float "
            "(batch, latent_dim) -> (batch, height, width[, channels]) generator; export it with `gantool export`"
        )
    output_shape = list(outputs[0].shape[1:]) + ([1] if len(outputs[0].shape) == 3 else [])
    contract = ModelContract.from_dict({
        "latent_dim": inputs[0].shape[1], "output_shape": output_shape, "value_range": list(ASSUMED_VALUE_RANGE),
        "arch": "unknown", "gantool_version": "unknown", "input_name": inputs[0].name, "output_name": outputs[0].name,
    })
    return contract, len(outputs[0].shape) == 3


def inferred_note(path, contract: ModelContract) -> str:
    """One line telling the user that ``contract`` was read from ``path``'s graph, not its metadata."""
    low, high = contract.value_range
    return (f"note: {path} has no gantool contract; read from its graph: latent_dim {contract.latent_dim} -> "
            f"{contract.output_shape}, values assumed in [{low:g}, {high:g}] (tanh)")
