"""The runtime's Python API: load an exported generator, draw digits."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError, ModelFileError
from gantool.runtime.backends import open_backend
from gantool.runtime.contract import ModelContract, latents

# Images generated per backend call: bounds memory for any --count.
DEFAULT_BATCH = 256
# A request above this is refused rather than allowed to exhaust memory when
# the caller wants everything in one array; streaming APIs have no limit.
MAX_IN_MEMORY_COUNT = 1_000_000
DEFAULT_MODEL_NAME = "default.onnx"


def default_model_path() -> Path:
    """The generator bundled with the runtime package."""
    path = Path(str(resources.files("gantool.runtime") / "assets" / DEFAULT_MODEL_NAME))
    if not path.exists():
        raise ModelFileError("this gantool install has no bundled model; pass --model PATH")
    return path


class Generator:
    """An exported generator ready to sample.

    Example:
        >>> gen = Generator.load("g.onnx")
        >>> gen.sample(count=16, seed=0).shape
        (16, 28, 28, 1)
    """

    def __init__(self, backend, path: Path) -> None:
        self.backend = backend
        self.path = path

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int | None = None, spin_wait: bool = True) -> Generator:
        """Open ``path`` (``.onnx`` or ``.tflite``), or the bundled model when ``path`` is None.

        ``spin_wait=False`` suits a single call (``gantool sample``) or a busy
        machine; see :func:`gantool.runtime.backends.onnx_backend.session_options`.
        """
        model = Path(path) if path is not None else default_model_path()
        return cls(open_backend(model, threads, spin_wait), model)

    @property
    def contract(self) -> ModelContract:
        return self.backend.contract

    def latents(self, count: int, seed: int = 0) -> np.ndarray:
        """The latent batch of the documented convention for ``count`` and ``seed``."""
        return latents(count, self.contract.latent_dim, seed)

    def generate(self, z: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Run latents ``z`` through the model in batches; float images in the contract's range."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.contract.latent_dim:
            raise GantoolError(f"latents must have shape (count, {self.contract.latent_dim}), got {z.shape}")
        outputs = [self.backend.run(z[start : start + batch_size]) for start in range(0, len(z), batch_size)]
        return np.concatenate(outputs, axis=0)

    def iter_batches(self, count: int, seed: int = 0, batch_size: int = DEFAULT_BATCH) -> Iterator[np.ndarray]:
        """Yield float image batches for ``count`` latents of ``seed`` with bounded memory.

        Latents are drawn from one generator stream in chunks, which numpy
        guarantees equals a single draw of all ``count`` rows.
        """
        if count <= 0:
            raise GantoolError(f"--count must be a positive integer, got {count}")
        rng = np.random.default_rng(seed)
        remaining = count
        while remaining:
            size = min(batch_size, remaining)
            z = rng.standard_normal((size, self.contract.latent_dim), dtype=np.float32)
            yield self.backend.run(z)
            remaining -= size

    def sample(self, count: int = 64, seed: int = 0, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Generate ``count`` images for ``seed`` as uint8 ``(count, height, width, channels)``."""
        if count > MAX_IN_MEMORY_COUNT:
            raise GantoolError(
                f"--count {count} exceeds {MAX_IN_MEMORY_COUNT} images in memory; sample in several runs with different seeds"
            )
        out = np.empty((count, *self.contract.image_shape), dtype=np.uint8) if count > 0 else None
        start = 0
        for batch in self.iter_batches(count, seed, batch_size):
            out[start : start + len(batch)] = self.contract.to_uint8(batch)
            start += len(batch)
        return out

    def sample_float(self, count: int = 64, seed: int = 0, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Generate ``count`` float32 images for ``seed`` in the contract's value range."""
        if count > MAX_IN_MEMORY_COUNT:
            raise GantoolError(f"--count {count} exceeds {MAX_IN_MEMORY_COUNT} images in memory")
        return np.concatenate(list(self.iter_batches(count, seed, batch_size)), axis=0)
