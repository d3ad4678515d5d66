"""The runtime's Python API: load an exported generator, draw digits."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError, ModelFileError
from gantool.runtime.backends import check_model_file, file_kind, open_backend
from gantool.runtime.contract import ModelContract, check_seed, inferred_note, latents

# Images generated per backend call: bounds memory for any --count.
DEFAULT_BATCH = 256
# A request above this is refused rather than allowed to exhaust memory when
# the caller wants everything in one array; streaming APIs have no limit.
MAX_IN_MEMORY_COUNT = 1_000_000
DEFAULT_MODEL_NAME = "default.onnx"
# Names ``--model`` / :meth:`Generator.load` accept for the files bundled with the package.
BUNDLED = {"bundled": DEFAULT_MODEL_NAME, "bundled-int8": "default_int8.onnx"}


def check_in_memory(count: int) -> None:
    """Refuse to hold more than :data:`MAX_IN_MEMORY_COUNT` samples in memory at once."""
    if count > MAX_IN_MEMORY_COUNT:
        raise GantoolError(
            f"`count` {count} exceeds {MAX_IN_MEMORY_COUNT} images in memory; sample in several runs with different seeds"
        )


def default_model_path(name: str = "bundled") -> Path:
    """The generator bundled with the runtime package (``name``: a key of :data:`BUNDLED`)."""
    path = Path(str(resources.files("gantool.runtime") / "assets" / BUNDLED[name]))
    if not path.exists():
        raise ModelFileError(f"this gantool install has no {name} model; pass `model`: the path of an .onnx or .tflite file")
    return path


def resolve_model(model: str | Path | None, folders: bool = False) -> Path:
    """The path a ``--model`` value names: the one resolver behind every command that takes it.

    Args:
        model: None or ``"bundled"`` (the bundled generator), ``"bundled-int8"`` (its int8 export),
            or a path to an ``.onnx`` or ``.tflite`` file (or, with ``folders``, to a folder).
        folders: accept a folder and return it as it is, for a caller that knows what to do
            with one (``gantool bench`` measures the exports in it, or exports a run first).

    Returns:
        The model file (or folder) to open.

    Raises:
        ModelFileError: no such file or bundled name, a folder where a file is needed (the
            message names the models inside it), or a file the runtime cannot run.

    Example:
        >>> resolve_model("bundled-int8").name
        'default_int8.onnx'
    """
    if model is None or str(model) in BUNDLED:
        return default_model_path(str(model or "bundled"))
    path = Path(model)
    if path.is_dir():
        if folders:
            return path
        raise ModelFileError(_folder_message(path))
    if len(path.parts) == 1 and not path.suffix and not path.exists():
        # A bare word is more likely a misspelt bundled name than a missing file.
        raise ModelFileError(f"`model` {model} is neither a model file nor a bundled model; pass an .onnx or "
                             f".tflite file, or {' or '.join(BUNDLED)}")
    check_model_file(path)
    return path


def _folder_message(folder: Path) -> str:
    """Why a folder is not a model file, naming the model files in it (and one level down)."""
    found = sorted(str(p) for p in (*folder.glob("*"), *folder.glob("*/*")) if file_kind(p) and p.is_file())
    if not found:
        return (f"`model` {folder} is a folder with no .onnx or .tflite model in it; export one with: "
                f"gantool export --model {folder} --out g.onnx")
    shown = ", ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")
    return f"`model` {folder} is a folder; pass a model file in it: {shown}"


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
        """Open ``path`` (``.onnx`` or ``.tflite``), or the bundled model when ``path`` is None or
        ``"bundled"`` (``"bundled-int8"``: its int8 export, when the package ships one); see
        :func:`resolve_model`.

        ``spin_wait=False`` suits a single call (``gantool sample``) or a busy
        machine; see :func:`gantool.runtime.backends.onnx_backend.session_options`.
        """
        model = resolve_model(path)
        return cls(open_backend(model, threads, spin_wait), model)

    @property
    def contract(self) -> ModelContract:
        return self.backend.contract

    @property
    def contract_note(self) -> str:
        """One line for the user when the contract was read from the graph (no gantool metadata), else ''."""
        return inferred_note(self.path, self.contract) if getattr(self.backend, "contract_inferred", False) else ""

    def latents(self, count: int, seed: int = 0) -> np.ndarray:
        """The latent batch of the documented convention for ``count`` and ``seed``."""
        return latents(count, self.contract.latent_dim, seed)

    def generate(self, z: np.ndarray, batch_size: int = DEFAULT_BATCH, labels: np.ndarray | None = None) -> np.ndarray:
        """Run latents ``z`` (and ``labels`` for a conditional model: default convention when None)
        through the model in batches; float outputs in the contract's range."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.contract.latent_dim:
            raise GantoolError(f"latents must have shape (count, {self.contract.latent_dim}), got {z.shape}")
        labels = self.contract.check_labels(labels, len(z))
        outputs = [self.backend.run(z[start : start + batch_size],
                                    None if labels is None else labels[start : start + batch_size])
                   for start in range(0, len(z), batch_size)]
        return np.concatenate(outputs, axis=0)

    def _batch_labels(self, labels, start: int, size: int) -> np.ndarray | None:
        """Labels of samples ``start .. start+size``: a fixed digit, a slice of ``labels``, or the convention."""
        if not self.contract.conditional:
            if labels is not None:
                raise GantoolError(f"{self.path.name} is unconditional; it takes no digit labels")
            return None
        if labels is None:
            return ((np.arange(start, start + size)) % self.contract.num_classes).astype(np.int32)
        if np.ndim(labels) == 0:
            return self.contract.check_labels(np.full(size, int(labels)), size)
        return self.contract.check_labels(np.asarray(labels)[start : start + size], size)

    def iter_batches(self, count: int, seed: int = 0, batch_size: int = DEFAULT_BATCH,
                     labels: np.ndarray | int | None = None) -> Iterator[np.ndarray]:
        """Yield float output batches for ``count`` latents of ``seed`` with bounded memory.

        Latents are drawn from one generator stream in chunks, which numpy
        guarantees equals a single draw of all ``count`` rows. A conditional model
        gets ``labels`` (one digit for all, or one per sample), else the
        convention's ``arange(count) % num_classes``.
        """
        if count <= 0:
            raise GantoolError(f"`count` must be a positive integer, got {count}")
        if labels is not None and np.ndim(labels) == 1 and len(labels) != count:
            raise GantoolError(f"got {len(labels)} labels for {count} samples")
        rng = np.random.default_rng(check_seed(seed))
        start = 0
        while start < count:
            size = min(batch_size, count - start)
            z = rng.standard_normal((size, self.contract.latent_dim), dtype=np.float32)
            yield self.backend.run(z, self._batch_labels(labels, start, size))
            start += size

    def sample(self, count: int = 64, seed: int = 0, batch_size: int = DEFAULT_BATCH,
               labels: np.ndarray | int | None = None) -> np.ndarray:
        """Generate ``count`` images for ``seed`` as uint8 ``(count, height, width, channels)``."""
        check_in_memory(count)
        out = np.empty((count, *self.contract.image_shape), dtype=np.uint8) if count > 0 else None
        start = 0
        for batch in self.iter_batches(count, seed, batch_size, labels):
            out[start : start + len(batch)] = self.contract.to_uint8(batch)
            start += len(batch)
        return out

    def sample_float(self, count: int = 64, seed: int = 0, batch_size: int = DEFAULT_BATCH,
                     labels: np.ndarray | int | None = None) -> np.ndarray:
        """Generate ``count`` float32 outputs for ``seed`` in the contract's value range."""
        if count > MAX_IN_MEMORY_COUNT:
            raise GantoolError(f"`count` {count} exceeds {MAX_IN_MEMORY_COUNT} images in memory")
        return np.concatenate(list(self.iter_batches(count, seed, batch_size, labels)), axis=0)
