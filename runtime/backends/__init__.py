"""Inference backends, picked from the model file's suffix.

Each backend is one module exposing ``open_model(path, threads, spin_wait) -> Backend``.
Adding one (another onnxruntime execution provider, say) is one new module and
one line in :data:`FILE_KINDS`.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from gantool.errors import ModelFileError

if TYPE_CHECKING:  # base imports numpy; the table of file kinds must not (gantool --help reads it)
    from gantool.runtime.backends.base import Backend


@dataclasses.dataclass(frozen=True)
class FileKind:
    """A kind of model file the runtime runs; the one table of file suffixes.

    Args:
        format: the format's name, as the export registry and ``gantool bench`` spell it.
        suffix: the file suffix the backend is picked from.
        backend: the module under ``gantool.runtime.backends`` that runs it.
        engine: the library that backend runs on, imported only when a model is opened.
    """

    format: str
    suffix: str
    backend: str
    engine: str


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("onnx", ".onnx", "onnx_backend", "onnxruntime"),
    FileKind("tflite", ".tflite", "tflite_backend", "ai_edge_litert.interpreter"),
)


def file_kind(path: str | Path) -> FileKind | None:
    """The kind of model file ``path`` names by its suffix, or None for an unknown suffix."""
    suffix = Path(path).suffix.lower()
    return next((kind for kind in FILE_KINDS if kind.suffix == suffix), None)


def suffix_for(format: str) -> str:
    """The file suffix of ``format`` (``onnx`` -> ``.onnx``)."""
    for kind in FILE_KINDS:
        if kind.format == format:
            return kind.suffix
    raise KeyError(format)


def check_model_file(path: str | Path) -> str:
    """Check that ``path`` is a non-empty file of a known suffix; return its backend module's name.

    Raises:
        ModelFileError: the file is missing, a folder, empty, or of an unknown kind.
    """
    model = Path(path)
    if not model.exists():
        raise ModelFileError(f"model file {model} does not exist; `model` must be the path of an .onnx or .tflite file")
    if model.is_dir():
        raise ModelFileError(f"{model} is a folder; `model` must be the path of an .onnx or .tflite file inside it")
    kind = file_kind(model)
    if kind is None:
        supported = ", ".join(sorted(k.suffix for k in FILE_KINDS))
        raise ModelFileError(f"{model} is not a runnable model (suffix {model.suffix or 'none'!r}); supported: {supported}")
    if model.stat().st_size == 0:
        raise ModelFileError(f"model file {model} is empty; export it again with gantool export")
    return kind.backend


def open_backend(path: str | Path, threads: int | None = None, spin_wait: bool = True) -> Backend:
    """Open ``path`` with the backend its suffix names (``spin_wait``: see onnx_backend.session_options).

    Raises:
        ModelFileError: the file is missing, a folder, empty, or of an unknown kind.
    """
    module = importlib.import_module(f"gantool.runtime.backends.{check_model_file(path)}")
    return module.open_model(Path(path), threads, spin_wait)
