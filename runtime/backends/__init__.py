"""Inference backends, picked from the model file's suffix.

Each backend is one module exposing ``open_model(path, threads, spin_wait) -> Backend``.
Adding one (another onnxruntime execution provider, say) is one new module and
one line in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from gantool.errors import ModelFileError
from gantool.runtime.backends.base import Backend

# suffix -> module under gantool.runtime.backends
BACKENDS: dict[str, str] = {
    ".onnx": "onnx_backend",
    ".tflite": "tflite_backend",
}


def check_model_file(path: str | Path) -> str:
    """Check that ``path`` is a non-empty file of a known suffix; return its backend module's name.

    Raises:
        ModelFileError: the file is missing, a folder, empty, or of an unknown kind.
    """
    model = Path(path)
    if not model.exists():
        raise ModelFileError(f"model file {model} does not exist; pass --model PATH to an .onnx or .tflite file")
    if model.is_dir():
        raise ModelFileError(f"{model} is a folder; pass --model PATH to an .onnx or .tflite file inside it")
    module_name = BACKENDS.get(model.suffix.lower())
    if module_name is None:
        supported = ", ".join(sorted(BACKENDS))
        raise ModelFileError(f"{model} is not a runnable model (suffix {model.suffix or 'none'!r}); supported: {supported}")
    if model.stat().st_size == 0:
        raise ModelFileError(f"model file {model} is empty; export it again with gantool export")
    return module_name


def open_backend(path: str | Path, threads: int | None = None, spin_wait: bool = True) -> Backend:
    """Open ``path`` with the backend its suffix names (``spin_wait``: see onnx_backend.session_options).

    Raises:
        ModelFileError: the file is missing, a folder, empty, or of an unknown kind.
    """
    module = importlib.import_module(f"gantool.runtime.backends.{check_model_file(path)}")
    return module.open_model(Path(path), threads, spin_wait)
