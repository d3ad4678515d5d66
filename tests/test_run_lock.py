"""One writer per run folder: a second `gantool train` is refused naming the first; a dead holder's lock is taken over.

The lock is held by real subprocesses (a few lines of Python that take it and wait), so these
tests run in seconds; the last one (slow) does the same with real tiny trainings.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gantool.errors import GantoolError, RunLockedError
from gantool.train.run_lock import LOCK_NAME, run_lock

from .conftest import FIXTURE_NPZ

# Takes the lock of argv[1], says "held", and holds it until stdin closes.
HOLD = """
import sys
from gantool.train.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def holding(root: Path):
    """A subprocess holding the lock of ``root`` inside the block (released when the block ends, unless killed)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()


def sigkill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def record(root: Path) -> dict:
    return json.loads((root / LOCK_NAME).read_text())


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes (None for a folder) under ``folder``."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def fake_run(root: Path) -> Path:
    for name, data in {"checkpoints/last.npz": b"PK\x03\x04 not a real one", "config.json": b"{}",
                       "metrics.csv": b"epoch,d_loss\n1,1.3\n", "samples/epoch_0001.png": b"\x89PNG"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def gantool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gantool", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_a_second_train_is_refused_in_one_line_naming_the_holder_and_writes_nothing(tmp_path):
    """Refused before it reads anything (the checkpoint here is not even one), and nothing in the folder changes."""
    run = fake_run(tmp_path / "run")
    with holding(run) as holder:
        held = record(run)
        assert held["pid"] == holder.pid and held["command"].startswith("python -c")
        before = snapshot(run)
        for extra in (["--resume"], ["--data", FIXTURE_NPZ, "--recipe", "tutorial", "--epochs", "1"]):
            result = gantool("train", "--out", run, *extra)
            lines = result.stderr.splitlines()
            assert result.returncode == 2 and len(lines) == 1 and not result.stdout, (result.stdout, result.stderr)
            assert lines[0].startswith(f"error: {run} is being written by another training process (pid {holder.pid} ")
            assert f"started {held['started']}, running 'python -c" in lines[0]
            assert lines[0].endswith("or choose another --out")
            assert snapshot(run) == before
    # Released: the lock file is gone, the run's files are as they were.
    assert snapshot(run) == {k: v for k, v in before.items() if k != LOCK_NAME}


def test_the_lock_of_a_sigkilled_process_is_taken_over_without_a_prompt(tmp_path):
    run = tmp_path / "run"
    with holding(run) as holder:
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} "), run_lock(run):
            pass
        sigkill(holder)
    held = record(run)
    assert held["pid"] == holder.pid  # SIGKILL left the file; the kernel dropped the flock
    said = []
    with run_lock(run, log=said.append):
        assert record(run)["pid"] == os.getpid()
    assert said == [f"Took over {run / LOCK_NAME} from pid {holder.pid} (started {held['started']}), "
                    "which is no longer running"]
    assert not (run / LOCK_NAME).exists()


def test_a_lock_file_removed_by_its_releasing_holder_between_open_and_flock_is_opened_again(tmp_path, monkeypatch):
    """A holder removes the file just before it releases the flock; a process that opened the file before the
    removal gets that flock on a file nobody else can find, and must lock the file at the path instead."""
    run = tmp_path / "run"
    run.mkdir()
    real_open, opens = os.open, []

    def open_then_release(path, flags, mode=0o777):
        fd = real_open(path, flags, mode)
        if Path(path).name == LOCK_NAME:
            opens.append(path)
            if len(opens) == 1:
                os.unlink(path)  # what the holder's release does just after our open
        return fd

    monkeypatch.setattr(os, "open", open_then_release)
    with run_lock(run):
        monkeypatch.undo()
        assert len(opens) == 2 and record(run)["pid"] == os.getpid()
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()} "), run_lock(run):
            pass  # the file at the path is the one locked
    assert not (run / LOCK_NAME).exists()


def test_a_filesystem_without_flock_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch):
    import fcntl

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    with pytest.raises(GantoolError, match="cannot lock .*train.lock \\(No locks available\\); choose an `out` on a local"):
        with run_lock(tmp_path / "new" / "run"):
            pass
    assert not (tmp_path / "new").exists()


def test_the_lock_is_taken_once_for_every_phase_and_a_failed_start_leaves_no_folder(tmp_path, monkeypatch):
    """run_recipe holds one lock across its phases, so the lock is not free even to its own process in between;
    a start that fails under the lock leaves the folders it created removed."""
    from gantool.train import trainer
    from gantool.train.recipes import Phase, Recipe, run_recipe

    run = tmp_path / "new" / "run"
    seen = []

    def fake_train(config, out, **kwargs):
        lock = Path(out) / LOCK_NAME
        seen.append((config.epochs, lock.stat().st_ino, record(Path(out))["pid"]))
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()} "), run_lock(out):
            pass
        return trainer.RunDir(Path(out))

    monkeypatch.setattr(trainer, "train", fake_train)
    two_phases = Recipe("two", 1, "dcgan", "test", {"batch_size": 32}, (Phase(1), Phase(2)))
    run_recipe(two_phases, run, log=lambda *_: None)
    assert [epochs for epochs, _, _ in seen] == [1, 2] and len({inode for _, inode, _ in seen}) == 1
    assert {pid for _, _, pid in seen} == {os.getpid()}
    assert not (tmp_path / "new").exists()  # the folders the lock created, still empty, are removed with it
    with pytest.raises(GantoolError, match="bad flag"), run_lock(run):
        raise GantoolError("bad flag")  # a start refused after taking the lock leaves nothing either
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_real_runs_a_resume_during_training_is_refused_and_a_sigkilled_run_resumes(tmp_path):
    """Real tiny trainings: the first finishes unharmed beside a refused --resume; one killed mid-epoch resumes."""
    from . import kill_matrix as km

    run = tmp_path / "run"
    first_log, killed_log = tmp_path / "first.log", tmp_path / "killed.log"
    with open(first_log, "w") as log:
        first = subprocess.Popen([*km.train_command(run, FIXTURE_NPZ, 4, resume=False), "--stop-after", "2"],
                                 stdout=log, stderr=subprocess.STDOUT, env=km.subprocess_env())
        deadline = time.monotonic() + 60
        while first.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, KeyError):
                if record(run)["pid"] == first.pid:
                    break
            time.sleep(0.01)
        second = subprocess.run(km.train_command(run, FIXTURE_NPZ, 4, resume=True), capture_output=True, text=True,
                                env=km.subprocess_env(), timeout=120)
        assert first.poll() is None, "the first run ended before the second was tried"
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert f"(pid {first.pid} " in second.stderr
        assert first.wait(timeout=300) == 0, first_log.read_text()
    assert "Stopped after epoch 2 of 4; continue with the same command, --resume and without --stop-after" in \
        first_log.read_text() and km.read_checkpoint(run) == (2, True)
    assert not (run / LOCK_NAME).exists()

    with open(killed_log, "w") as log:
        killed = subprocess.Popen(km.train_command(run, FIXTURE_NPZ, 4, resume=True), stdout=log,
                                  stderr=subprocess.STDOUT, env=km.subprocess_env())
        assert km.wait_for_line(killed, killed_log, re.compile(r"Epoch 3/4")), killed_log.read_text()
        sigkill(killed)
    epoch, loadable = km.read_checkpoint(run)
    assert loadable and epoch in (2, 3) and record(run)["pid"] == killed.pid
    resumed = subprocess.run(km.train_command(run, FIXTURE_NPZ, 4, resume=True), capture_output=True, text=True,
                             env=km.subprocess_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert f"from pid {killed.pid} " in resumed.stdout and f"after epoch {epoch}" in resumed.stdout
    assert km.read_checkpoint(run) == (4, True) and not (run / LOCK_NAME).exists()
