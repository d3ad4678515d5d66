"""The small interface every inference backend implements."""

from __future__ import annotations

import os
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


def cpu_count() -> int:
    """Cores this process may use (its CPU affinity on Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
