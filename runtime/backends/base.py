"""The small interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gantool.runtime.contract import ModelContract


class Backend(Protocol):
    """A loaded generator: latents in, float NHWC images out."""

    contract: ModelContract
    name: str

    def run(self, z: np.ndarray) -> np.ndarray:
        """Run one batch: float32 ``(batch, latent_dim)`` -> float32 ``(batch, *image_shape)``."""
        ...
