"""The small interface every inference backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gantool.runtime.contract import ModelContract


class Backend(Protocol):
    """A loaded generator: latents in, float NHWC images out."""

    contract: ModelContract
    name: str

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Run one batch: float32 ``(batch, latent_dim)`` [+ int32 ``(batch,)`` labels of a conditional
        model; the contract's default labels when None] -> float32 ``(batch, *output_shape)``."""
        ...
