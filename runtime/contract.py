"""The model contract: what a generator takes and gives, carried inside every model file.

The contract is the single source of truth the runtime reads; it never guesses
latent size or value range. It is stored as one JSON document under the
metadata key :data:`METADATA_KEY` (ONNX ``metadata_props``; the TFLite
metadata buffer of the same name) and as ``config.json`` next to a training run.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from gantool import __version__
from gantool.errors import ContractError

METADATA_KEY = "gantool.contract"
CONTRACT_VERSION = 1
# Metadata is parsed as data, never executed; a bound keeps a hostile file from
# making the parser allocate without limit.
MAX_METADATA_BYTES = 1_000_000

LATENT_CONVENTION = (
    "numpy.random.default_rng(seed).standard_normal((count, latent_dim), dtype=numpy.float32)"
)


def latents(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """Draw the latent batch of the documented convention.

    Goldens, grids and every format's parity checks depend on this exact call:
    ``numpy.random.default_rng(seed).standard_normal((count, latent_dim), dtype=float32)``.
    """
    if count <= 0:
        raise ContractError(f"count must be a positive integer, got {count}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, latent_dim), dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class ModelContract:
    """What a generator file takes and gives.

    Args:
        latent_dim: length of the latent vector ``z`` (input shape ``(batch, latent_dim)``).
        image_shape: one image as ``(height, width, channels)``; outputs are NHWC.
        value_range: the (low, high) range of output pixel values (tanh: -1..1).
        arch: the architecture name (``dcgan``...).
        input_name: name of the graph input.
        output_name: name of the graph output.
        quantization: ``none``, ``fp16``, ``int8`` or ``dynamic``.
        calibration_size: latents used to calibrate a quantized export, else 0.
        gantool_version: the gantool that wrote the file.
        latent_convention: how latents are drawn for a seed (see :data:`LATENT_CONVENTION`).
        training: the training configuration, as saved by ``gantool train``.
        evaluation: quality figures measured on this model, if any.
    """

    latent_dim: int
    image_shape: tuple[int, int, int]
    value_range: tuple[float, float] = (-1.0, 1.0)
    arch: str = "dcgan"
    input_name: str = "z"
    output_name: str = "image"
    quantization: str = "none"
    calibration_size: int = 0
    gantool_version: str = __version__
    latent_convention: str = LATENT_CONVENTION
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    evaluation: dict[str, Any] = dataclasses.field(default_factory=dict)
    contract_version: int = CONTRACT_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.latent_dim, int) or self.latent_dim <= 0:
            raise ContractError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        shape = tuple(self.image_shape)
        if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ContractError(f"image_shape must be (height, width, channels), got {self.image_shape!r}")
        low, high = (float(v) for v in self.value_range)
        if not low < high:
            raise ContractError(f"value_range must be (low, high) with low < high, got {self.value_range!r}")
        object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "value_range", (low, high))

    def replace(self, **changes: Any) -> ModelContract:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["image_shape"] = list(self.image_shape)
        data["value_range"] = list(self.value_range)
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
            kwargs["image_shape"] = tuple(kwargs["image_shape"])
            kwargs["value_range"] = tuple(kwargs.get("value_range", (-1.0, 1.0)))
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
