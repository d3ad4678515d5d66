"""One writer per run folder: an OS lock on ``train.lock`` inside it, whose JSON body names the holder.

``gantool train`` takes the lock before it writes anything into the run folder and keeps it until
its last phase has ended, so a second ``gantool train`` on the same ``out`` (say a ``--resume``
started while the first still runs) is refused in one line naming the running process, and
writes nothing.

Two layers, because each covers what the other cannot:

- ``fcntl.flock`` on the lock file. The kernel drops it when its process ends, however it ends
  (SIGKILL included), so a dead run never blocks ``--resume``: the next start gets the lock and
  says that it took it over. Nothing has to judge whether the old holder is alive.
- The body, ``{"pid", "start", "started", "host", "command"}``: who holds the lock, for the
  refusal. Where there is no ``flock`` (Windows, and network filesystems that refuse it) the body
  is the lock: the file is created exclusively, and one whose process is gone, or whose pid now
  belongs to a process that started at another moment (a recycled pid), is stale and taken over.
  A process's start moment is field 22 of ``/proc/PID/stat`` (clock ticks after boot) on Linux;
  elsewhere it is unknown, and a live pid counts as the holder, as does a holder on another host
  (the refusal then says which file to delete once that process is gone).

The lock is re-entrant within a process (the command line, ``run_recipe`` and ``train`` each take
it; only the outermost acquires). Released, the lock file is removed, and so are the folders taking
it created if they are still empty, so a refused or failed start leaves the folder as it found it.

Example:
    >>> with run_lock("runs/default"):
    ...     ...  # the only writer of runs/default until the block ends
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import functools
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gantool.errors import RunLockedError
from gantool.runtime.files import check_output_folder

LOCK_NAME = "train.lock"
# What flock raises on a filesystem that does not support it; the body alone is the lock there.
NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}
# A body still unreadable after this many seconds is not one being written: its writer died first.
UNWRITTEN_AFTER_S = 5.0
MAX_BODY = 4096
_HELD: dict[str, int] = {}  # real path of each lock this process holds -> how deeply it is nested


@dataclasses.dataclass(frozen=True)
class Holder:
    """The process a lock file names.

    Args:
        pid: its process id.
        start: its start moment as the OS counts it (``/proc/PID/stat`` field 22); None where unknown.
            With the pid it identifies one process: a later process given the same pid starts later.
        started: the same moment as local wall-clock time, for people.
        host: the machine it runs on.
        command: its command line.
    """

    pid: int
    start: str | None
    started: str
    host: str
    command: str

    @classmethod
    def this_process(cls) -> Holder:
        start = process_start(os.getpid())
        return cls(os.getpid(), start, _wall_clock(start), socket.gethostname(), _command_line())

    @classmethod
    def parse(cls, body: bytes | None) -> Holder | None:
        """The holder a lock file's body names; None for a body that is empty, partial or not ours."""
        try:
            fields = json.loads(body or b"")
            start = fields.get("start")
            return cls(int(fields["pid"]), None if start is None else str(start), str(fields.get("started", "?")),
                       str(fields.get("host", "?")), str(fields.get("command", "?")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def to_bytes(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=1) + "\n").encode()

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}, running {self.command!r}"

    def is_running(self) -> bool:
        """Whether this process still runs: its pid is alive and started at the same moment.

        True where that cannot be told: a holder on another host, or a live pid where the OS
        gives no start moment.
        """
        if self.host != socket.gethostname():
            return True
        if self.pid <= 0:
            return False
        if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
        now = process_start(self.pid)
        if now is None:  # on Linux the process has just ended; elsewhere its start is unknown
            return not Path("/proc/self/stat").exists()
        return self.start is None or now == self.start


def process_start(pid: int) -> str | None:
    """When process ``pid`` started: field 22 of ``/proc/PID/stat`` (clock ticks after boot); None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # Field 2, the command name in parentheses, may itself hold spaces and parentheses; field 3 follows it.
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[22 - 3].decode() if len(fields) > 22 - 3 else None


def _wall_clock(start: str | None) -> str:
    """The local time of a start moment (boot time plus its ticks); now, where it is unknown."""
    moment = time.time()
    if start is not None:
        with contextlib.suppress(OSError, ValueError, StopIteration):
            boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                        if line.startswith("btime "))
            moment = boot + int(start) / os.sysconf("SC_CLK_TCK")
    return datetime.datetime.fromtimestamp(moment).astimezone().isoformat(sep=" ", timespec="seconds")


def _command_line(limit: int = 160) -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        program = f"python -m {spec.name.removesuffix('.__main__')}"
    else:
        program = "python -c" if sys.argv[0] == "-c" else Path(sys.argv[0]).name
    text = " ".join([program, shlex.join(sys.argv[1:])]).strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


@contextlib.contextmanager
def run_lock(root: str | os.PathLike[str], log: Callable[[str], None] = print) -> Iterator[None]:
    """Be the only writer of run folder ``root`` inside the block.

    Creates ``root`` when needed; on leaving, removes the lock file and the folders it created
    that are still empty. Taking over a lock whose holder died is said through ``log``.

    Raises:
        RunLockedError: another running process holds the lock; the message names it.
        GantoolError: ``root`` cannot be a folder (a file in the way, not writable).
    """
    folder = check_output_folder(root)
    created, missing = [], folder
    while not missing.exists():
        created.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = os.path.realpath(path)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        release = _acquire(path, log)
    except BaseException:
        _remove_if_empty(created)
        raise
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        release()
        _remove_if_empty(created)


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _acquire(path: Path, log: Callable[[str], None]) -> Callable[[], None]:
    """Take the lock at ``path`` (flock, else the body alone); return what releases it."""
    try:
        import fcntl
    except ImportError:
        return _acquire_record(path, log)
    for _ in range(10):
        try:
            fd, created = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            try:
                fd, created = os.open(path, os.O_RDWR), False
            except FileNotFoundError:  # its holder removed it just now
                continue
        try:
            flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _wait_for_body(functools.partial(os.pread, fd, MAX_BODY, 0))
            os.close(fd)
            raise _refusal(path, holder) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno not in NO_FLOCK:
                raise
            if created:
                os.unlink(path)
            return _acquire_record(path, log)
        if not _same_file(fd, path):  # the holder removed the file between our open and flock
            os.close(fd)
            continue
        _said_taken_over(Holder.parse(os.pread(fd, MAX_BODY, 0)), path, log)
        os.ftruncate(fd, 0)
        os.pwrite(fd, Holder.this_process().to_bytes(), 0)
        return functools.partial(_release_flock, fd, path)
    raise RunLockedError(f"{path} keeps changing hands; another process is starting in {path.parent}: "
                         "wait for it, or choose another `out`")


def flock(fd: int, operation: int) -> None:
    """``fcntl.flock`` (a function of its own, so that tests can take it away)."""
    import fcntl

    fcntl.flock(fd, operation)


def _release_flock(fd: int, path: Path) -> None:
    # Removed while still locked: a process that opened it meanwhile sees, once it gets the
    # lock, that the path no longer leads to the file it locked, and opens the new one.
    try:
        if _same_file(fd, path):
            os.unlink(path)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _acquire_record(path: Path, log: Callable[[str], None]) -> Callable[[], None]:
    """The lock without flock: create the file exclusively; a stale one is removed and created again.

    Two processes taking over the same stale record at the same instant can both succeed; flock,
    where the filesystem has it, leaves no such gap.
    """
    me = Holder.this_process()
    for _ in range(10):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _wait_for_body(functools.partial(_read, path))
            if holder is None and _age(path) < UNWRITTEN_AFTER_S:
                raise _refusal(path, None) from None
            if holder is not None and holder.is_running():
                raise _refusal(path, holder, unverified=holder.host != me.host or holder.start is None) from None
            _said_taken_over(holder, path, log)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            continue
        try:
            os.write(fd, me.to_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
        return functools.partial(_release_record, path, me)
    raise RunLockedError(f"{path} keeps changing hands; another process is starting in {path.parent}: "
                         "wait for it, or choose another `out`")


def _release_record(path: Path, me: Holder) -> None:
    if Holder.parse(_read(path)) == me:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BODY)
    except FileNotFoundError:
        return None


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return UNWRITTEN_AFTER_S


def _wait_for_body(read: Callable[[], bytes | None], seconds: float = 1.0) -> Holder | None:
    """The holder a lock file names, waiting briefly for a holder that is still writing its body."""
    deadline = time.monotonic() + seconds
    while True:
        holder = Holder.parse(read())
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.05)


def _said_taken_over(previous: Holder | None, path: Path, log: Callable[[str], None]) -> None:
    if previous is not None:
        log(f"Took over {path} from pid {previous.pid} (started {previous.started}), which is no longer running")


def _refusal(path: Path, holder: Holder | None, unverified: bool = False) -> RunLockedError:
    who = holder.describe() if holder else f"its record in {path} is not written yet"
    advice = f"; if that process is no longer running, delete {path}" if unverified else ""
    return RunLockedError(f"{path.parent} is being written by another training process ({who}); wait for it "
                          f"to end or stop it, or choose another `out`{advice}")
