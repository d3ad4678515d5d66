"""The light runtime: sample digits from an exported generator.

Imports only numpy, onnxruntime and Pillow (and ai-edge-litert for a
``.tflite``); never TensorFlow. Typical use::

    from gantool.runtime import Generator
    digits = Generator.load("g.onnx").sample(count=64, seed=0)  # uint8 (64, 28, 28, 1)

The names below load on first use, so that importing a light module of the runtime (the
table of file kinds, say) does not import numpy: ``gantool --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gantool.runtime.contract import LATENT_CONVENTION, ModelContract, latents
    from gantool.runtime.generator import Generator

_HOMES = {"Generator": "gantool.runtime.generator", "ModelContract": "gantool.runtime.contract",
          "LATENT_CONVENTION": "gantool.runtime.contract", "latents": "gantool.runtime.contract"}
__all__ = ["Generator", "ModelContract", "LATENT_CONVENTION", "latents"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'gantool.runtime' has no attribute {name!r}")
