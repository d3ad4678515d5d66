"""Keep TensorFlow's native start-up chatter off stderr, so an error stays one line.

TensorFlow 2.21 logs a few lines through absl while its libraries load ("All log
messages before absl::InitializeLog() is called are written to STDERR", the
oneDNN notice, "Could not find cuda drivers"), before absl is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not silence them (measured: 6 lines per process).
They are written by C++ straight to file descriptor 2, so the only way to hide
them is to point that descriptor at /dev/null while ``tensorflow`` is imported.
Everything after the import, Python warnings and TensorFlow's own errors
included, reaches stderr as before; ``gantool --debug`` keeps the chatter.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null inside the block (C/C++ writes included)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorflowImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``tensorflow`` is first imported, it wraps that import's
    ``exec_module`` in :func:`native_stderr_silenced` and leaves ``sys.meta_path``."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # the other finders decide, as if this one were not there
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            exec_module = spec.loader.exec_module

            def quiet_exec_module(module):
                with native_stderr_silenced():
                    exec_module(module)

            spec.loader.exec_module = quiet_exec_module
        return spec


def quiet_tensorflow_startup() -> None:
    """Silence TensorFlow's start-up chatter in this process, if TensorFlow is not imported yet."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorflowImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorflowImport())
