"""Atomic output files: nothing half-written, nothing overwritten on failure."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gantool.errors import GantoolError


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` can be written (its folder exists and is writable; it is not a folder)."""
    out = Path(path)
    if out.is_dir():
        raise GantoolError(f"{out} is a folder; give a file name, e.g. {out / 'out.png'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise GantoolError(f"output folder {parent} does not exist; create it first (mkdir -p {parent})")
    if not os.access(parent, os.W_OK):
        raise GantoolError(f"output folder {parent} is not writable; choose another --out")
    return out


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
