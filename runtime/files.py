"""Atomic output files: nothing half-written, nothing overwritten on failure."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from gantool.errors import GantoolError


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be written (its folder exists and is writable; it is not a folder)."""
    out = Path(path)
    if out.is_dir():
        raise GantoolError(f"{out} is a folder; give a file name, e.g. {out / ('out' + (out.suffix or '.png'))}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GantoolError(f"output folder {parent} does not exist; create it first (mkdir -p {parent})")
    if not os.access(parent, os.W_OK):
        raise GantoolError(f"output folder {parent} is not writable; write somewhere else")
    return out


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """Check that folder ``path`` exists or can be created: no file in the way, its nearest existing
    ancestor writable. Whatever fills a folder (a training run, an export folder) calls it before any work."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise GantoolError(f"{folder} is a file, not a folder; choose another `out`")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise GantoolError(f"{existing} is a file, so {folder} cannot be created; choose another `out`")
    if not os.access(existing, os.W_OK):
        raise GantoolError(f"folder {existing} is not writable, so {folder} cannot be written; choose another `out`")
    return folder


def remove_stale_temporaries(path: str | os.PathLike[str]) -> None:
    """Delete temporary files that :func:`atomic_path` left for ``path`` when a process was killed.

    A SIGKILL between creating and renaming the temporary file leaves it behind (for a
    checkpoint, tens of MB per kill); only a writer that knows it is the sole writer of
    ``path`` may call this.
    """
    out = Path(path)
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp{glob.escape(out.suffix)}"):
        with contextlib.suppress(OSError):
            stale.unlink()


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block has finished, then raise KeyboardInterrupt.

    Wrapped around a checkpoint save, Ctrl-C stops training after the checkpoint is
    on disk instead of throwing away a half-written one. Signal handlers can only be
    set from the main thread; elsewhere the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        if callable(previous):
            previous(signal.SIGINT, None)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target folder; rename it onto ``path`` only on success.

    The temporary file keeps the target's suffix so libraries that pick a
    format from the file name (Pillow, Keras) still do the right thing.
    """
    out = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".tmp{out.suffix}", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
