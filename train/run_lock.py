"""One writer per run folder: an ``fcntl.flock`` on ``train.lock`` inside it, whose record names the holder.

:func:`~gantool.train.recipes.run_recipe`, which ``gantool train`` and the Python API both go
through, takes the lock before it reads or writes anything in the run folder and keeps it until
the last phase has ended. A second training of the same folder (say a ``--resume`` started while
the first still runs) is refused in one line naming the running process, and writes nothing.

The kernel drops a flock when its process ends, SIGKILL included, so a dead run never blocks the
next start; a record still in the file says its writer died holding the lock, and the next holder
says it took it over. Released, the lock file is removed, and so are the folders taking it created
while still empty: a failed start leaves the folder as it found it.

Example:
    >>> with run_lock("runs/default"):
    ...     ...  # the only writer of runs/default until the block ends
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gantool.errors import GantoolError, RunLockedError
from gantool.runtime.files import check_output_folder

LOCK_NAME = "train.lock"
MAX_RECORD = 4096


@contextlib.contextmanager
def run_lock(root: str | os.PathLike[str], log: Callable[[str], None] = print) -> Iterator[None]:
    """Be the only writer of run folder ``root`` inside the block (a second take, even by this process, is refused).

    ``log`` is told when the lock of a process that died holding it is taken over.

    Raises:
        RunLockedError: another process holds the lock; the message names it (pid, start, command).
        GantoolError: ``root`` cannot be a folder (a file in the way, not writable) or locked (no flock there).
    """
    folder = check_output_folder(root)
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    path = folder / LOCK_NAME
    try:
        fd = _acquire(path, log)
    except BaseException:
        _remove_if_empty(created)
        raise
    try:
        yield
    finally:
        try:
            if _same_file(fd, path):  # removed while still locked: see _acquire
                os.unlink(path)
        finally:
            os.close(fd)
        _remove_if_empty(created)


def _acquire(path: Path, log: Callable[[str], None]) -> int:
    """Lock ``path`` and write this process's record into it; return the open file."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _wait_for_record(fd)
            os.close(fd)
            raise _refusal(path, holder) from None
        except OSError as exc:  # a filesystem without flock (some network ones): leave the folder as it was
            if not os.fstat(fd).st_size:
                os.unlink(path)
            os.close(fd)
            raise GantoolError(f"cannot lock {path} ({exc.strerror}); choose an `out` on a local filesystem") from None
        # A holder removes the file before it releases the lock; one that did so between our open
        # and our flock left us a lock on a file no other process will find: open the new one.
        if _same_file(fd, path):
            break
        os.close(fd)
    try:
        previous = _parse(os.pread(fd, MAX_RECORD, 0))
        if previous:
            log(f"Took over {path} from pid {previous['pid']} (started {previous['started']}), which is no longer running")
        os.ftruncate(fd, 0)
        os.pwrite(fd, _this_process(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _this_process() -> bytes:
    started = datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
    record = {"pid": os.getpid(), "started": started, "host": socket.gethostname(), "command": _command_line()}
    return (json.dumps(record, indent=1) + "\n").encode()


def _command_line(limit: int = 160) -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        program = f"python -m {spec.name.removesuffix('.__main__')}"
    else:
        program = "python -c" if sys.argv[0] == "-c" else Path(sys.argv[0]).name
    text = " ".join([program, shlex.join(sys.argv[1:])]).strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _parse(record: bytes) -> dict | None:
    """The holder a lock file's record names; None for a record that is empty, partial or not ours."""
    try:
        fields = json.loads(record)
        return {"pid": int(fields["pid"]), **{key: str(fields.get(key, "?")) for key in ("started", "host", "command")}}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _wait_for_record(fd: int, seconds: float = 1.0) -> dict | None:
    """The record of the lock's holder, waiting briefly for a holder that took the lock but has not written it yet."""
    deadline = time.monotonic() + seconds
    while (holder := _parse(os.pread(fd, MAX_RECORD, 0))) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return holder


def _same_file(fd: int, path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError):
        return os.path.samestat(os.fstat(fd), os.stat(path))
    return False


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; a folder that is not empty stays, and so do those above it
        with contextlib.suppress(OSError):
            folder.rmdir()


def _refusal(path: Path, holder: dict | None) -> RunLockedError:
    who = (f"pid {holder['pid']} on {holder['host']}, started {holder['started']}, running {holder['command']!r}"
           if holder else f"its record in {path} is not written yet")
    return RunLockedError(f"{path.parent} is being written by another training process ({who}); wait for it "
                          "to end or stop it, or choose another `out`")
