"""SIGKILL ``gantool train`` at random moments, resume it, and compare with an uninterrupted run.

Usage: python tests/kill_matrix.py [--kills 20] [--seed 0] [--epochs 5] [--data tests/data/mnist_small.npz]

A short CPU training (2 steps of 32 images per epoch) is started in a subprocess
and killed with SIGKILL, either after a random delay or while it writes a
checkpoint (the moment its temporary file appears, plus 0-40 ms). After every
kill the checkpoint must load, and the next start resumes from it (or starts
afresh when none was written yet). A run that reaches its last epoch is
compared, array by array, with an uninterrupted run of the same command; the
next kills go to a new run. A kill leaves the run folder's lock file (train.lock)
naming the killed process: the next start must take it over and say so, never
be refused. It prints one line::

    kills 20, unloadable checkpoints 0, resumed == uninterrupted: True (4 runs)

and exits 1 when a checkpoint did not load, a start did not resume from the last
complete epoch or take over a killed start's lock, or a run's weights differ. A
kill that lands after a run wrote its last file leaves a finished run: the next
start says "already finished", as it should. ``tests/test_interrupt.py`` imports
this harness and runs a few kills of the same kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "mnist_small.npz"
# The recipe of tests/conftest.py's tiny_config: seconds per epoch on CPU.
RECIPE = ("--recipe", "tutorial", "--batch-size", "32", "--steps-per-epoch", "2", "--seed", "7", "--lr", "2e-4", "--beta1", "0.5")
# Share of kills aimed at a checkpoint write; the rest come after a random delay.
DURING_WRITE_SHARE = 0.35
RESUMED = re.compile(r"Resumed from .* after epoch (\d+)")
STARTED = re.compile(r"^Training ", re.MULTILINE)  # said once the start holds the lock and has checked its request
TOOK_OVER = re.compile(r"Took over .*train\.lock from pid (\d+) ")
# A kill that lands after the run wrote its last file (while the interpreter exits) leaves a
# finished run; the next start says so and exits 2, which is right, not a failure.
ALREADY_FINISHED = "already finished"


# ``python -m gantool`` with SIGINT raising KeyboardInterrupt even when this process ignores it: a
# shell starts background jobs (``cmd &``) with SIGINT ignored, children inherit that, and Python
# then never raises KeyboardInterrupt (the Ctrl-C test failed when the suite ran under ``nohup ... &``).
GANTOOL_WITH_CTRL_C = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                       "sys.argv[0] = 'gantool'; from gantool.cli import run; run()")


def train_command(run: Path, data: Path, epochs: int, resume: bool) -> list[str]:
    """``gantool train`` of the short recipe as a subprocess command line (Ctrl-C enabled, see above)."""
    return [sys.executable, "-c", GANTOOL_WITH_CTRL_C, "train", "--data", str(data), "--out", str(run),
            "--epochs", str(epochs), *RECIPE, *(["--resume"] if resume else [])]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def checkpoint_file(run: Path) -> Path:
    return run / "checkpoints" / "last.npz"


def read_checkpoint(run: Path) -> tuple[int | None, bool]:
    """(completed epoch, loadable) of the run's checkpoint; (None, True) when there is none.

    Loadable means what ``--resume`` needs: an .npz whose every array reads back
    (CRC checked), without pickle, with its epoch and training config.
    """
    path = checkpoint_file(run)
    if not path.exists():
        return None, True
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        from gantool.train.checkpoint import read_checkpoint_meta

        epoch, _ = read_checkpoint_meta(path)
        return epoch, len(arrays) > 2
    except Exception:  # anything at all: the point is to count them
        return -1, False


def lock_holder(run: Path) -> int | None:
    """The pid the run folder's lock file names (None: no file, or one whose record was never written)."""
    try:
        return int(json.loads((run / "train.lock").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def checkpoint_arrays(run: Path) -> dict[str, np.ndarray]:
    with np.load(checkpoint_file(run), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def same_arrays(one: dict[str, np.ndarray], two: dict[str, np.ndarray]) -> bool:
    """Bit-identical: same keys, dtypes, shapes and bytes (NaN == NaN)."""
    return one.keys() == two.keys() and all(
        one[k].dtype == two[k].dtype and one[k].shape == two[k].shape and one[k].tobytes() == two[k].tobytes()
        for k in one)


def _temporaries(run: Path) -> set[str]:
    folder = run / "checkpoints"
    return {e.name for e in os.scandir(folder) if e.name.startswith(".last.npz.")} if folder.is_dir() else set()


def _size(path: Path | None) -> int | None:
    """Size of ``path`` in bytes, None when there is no such file (one stat call: no exists/stat race)."""
    try:
        return None if path is None else path.stat().st_size
    except FileNotFoundError:
        return None


def wait_for_checkpoint_write(process: subprocess.Popen, run: Path, nth: int = 1, timeout: float = 120) -> Path | None:
    """Poll until the process creates its ``nth`` checkpoint temporary file; return it (None: it exited first)."""
    seen = _temporaries(run)  # left by earlier kills
    fresh: list[str] = []
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        new = _temporaries(run) - seen
        seen |= new
        fresh += sorted(new)
        if len(fresh) >= nth:
            return run / "checkpoints" / fresh[nth - 1]
        time.sleep(0.002)
    return None


def wait_for_line(process: subprocess.Popen, log_file: Path, pattern: re.Pattern, timeout: float = 120) -> bool:
    """Poll the process's output until a line matches ``pattern`` (False: it exited first)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if pattern.search(log_file.read_text()):
            return True
        time.sleep(0.01)
    return False


@dataclasses.dataclass(frozen=True)
class Moment:
    """When to interrupt a start: during its ``value``-th checkpoint write ("write"), ``value`` seconds
    after it started ("delay"), or ``value`` seconds after it reported resuming ("after_resume")."""

    kind: str
    value: float
    signum: int = signal.SIGKILL


@dataclasses.dataclass
class Interruption:
    """One start of the training and how it ended."""

    moment: str
    epoch_before: int | None
    epoch_after: int | None
    loadable: bool
    resumed_from: int | None
    killed: bool
    returncode: int = 0
    lock_left_by: int | None = None  # the pid train.lock named before this start
    took_over_from: int | None = None  # the pid this start said it took the lock over from
    started: bool = False  # it got past the lock and its checks (said "Training ...")

    def describe(self) -> str:
        ending = "killed" if self.killed else "finished"
        return (f"{self.moment:<34} {ending:<8} checkpoint epoch {self.epoch_before} -> {self.epoch_after}"
                f"{'' if self.loadable else ' UNLOADABLE'}; resumed from {self.resumed_from}")


def _wait(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def start_once(run: Path, data: Path, epochs: int, moment: Moment, rng: random.Random, log_file: Path) -> Interruption:
    """Start (or resume) training, interrupt it at ``moment``, and inspect the checkpoint it left."""
    before, _ = read_checkpoint(run)
    left_by = lock_holder(run)
    with open(log_file, "w") as log:
        process = subprocess.Popen(train_command(run, data, epochs, resume=before is not None), stdout=log,
                                   stderr=subprocess.STDOUT, env=subprocess_env())
        if moment.kind == "write":
            temporary = wait_for_checkpoint_write(process, run, int(moment.value))
            # The file appears empty; a few ms later numpy is writing its 30 MB, then fsync runs.
            time.sleep(rng.uniform(0.0, 0.015))
            # Freeze the process before looking, so that the file seen is the file the kill leaves: a
            # write that ends between the look and the kill would otherwise be reported as cut short.
            if process.poll() is None:
                process.send_signal(signal.SIGSTOP)
            size = _size(temporary)
            described = (f"in checkpoint write {int(moment.value)} ({size / 1e6:.1f} MB out)" if size is not None
                         else f"in checkpoint write {int(moment.value)} (missed: the write had ended)")
        elif moment.kind == "after_resume":
            wait_for_line(process, log_file, RESUMED)
            _wait(process, moment.value)
            described = f"{moment.value:.2f} s after resuming"
        else:
            _wait(process, moment.value)
            described = f"{moment.value:.2f} s after start"
        killed = process.poll() is None
        if killed:
            process.send_signal(moment.signum)
            if moment.signum != signal.SIGKILL:
                process.send_signal(signal.SIGCONT)  # a stopped process handles other signals only once resumed
        process.wait(timeout=120)
    after, loadable = read_checkpoint(run)
    output = log_file.read_text()
    found = RESUMED.search(output)
    returncode = 0 if ALREADY_FINISHED in output and before == epochs else process.returncode
    return Interruption(described, before, after, loadable, int(found.group(1)) if found else None, killed,
                        returncode, **_lock_record(output, left_by))


def _lock_record(output: str, left_by: int | None) -> dict:
    """What a start's output says about the lock it found (see :class:`Interruption`)."""
    took_over = TOOK_OVER.search(output)
    return {"lock_left_by": left_by, "took_over_from": int(took_over.group(1)) if took_over else None,
            "started": bool(STARTED.search(output))}


def run_to_end(run: Path, data: Path, epochs: int, log_file: Path) -> Interruption:
    """Let the (resumed) training finish; fail loudly if it does not."""
    before, _ = read_checkpoint(run)
    left_by = lock_holder(run)
    with open(log_file, "w") as log:
        done = subprocess.run(train_command(run, data, epochs, resume=before is not None), stdout=log,
                              stderr=subprocess.STDOUT, env=subprocess_env(), timeout=600)
    if done.returncode != 0 and not (ALREADY_FINISHED in log_file.read_text() and before == epochs):
        raise RuntimeError(f"training did not finish (exit {done.returncode}):\n{log_file.read_text()[-2000:]}")
    after, loadable = read_checkpoint(run)
    found = RESUMED.search(log_file.read_text())
    return Interruption("(run to the end)", before, after, loadable, int(found.group(1)) if found else None, False,
                        **_lock_record(log_file.read_text(), left_by))


def check_interruption(record: Interruption, epochs: int) -> list[str]:
    """What went wrong with one start, if anything: a checkpoint that does not load, a lost epoch, a bad resume,
    a killed start's lock not taken over."""
    problems = []
    if not record.killed and record.returncode != 0:
        problems.append(f"training failed by itself (exit {record.returncode})")
    if not record.loadable:
        problems.append("checkpoint does not load")
    if record.epoch_before is not None and (record.epoch_after or 0) < record.epoch_before:
        problems.append(f"checkpoint went back from epoch {record.epoch_before} to {record.epoch_after}")
    # A start that got as far as loading must resume from the last complete epoch on disk.
    if record.resumed_from is not None and record.resumed_from != record.epoch_before:
        problems.append(f"resumed from epoch {record.resumed_from}, the checkpoint held {record.epoch_before}")
    if record.epoch_after is not None and not 0 < record.epoch_after <= epochs:
        problems.append(f"checkpoint epoch {record.epoch_after} out of range")
    # The lock of a killed start is taken over, and said so, by the next start that gets going.
    if record.lock_left_by is not None and record.started and record.took_over_from != record.lock_left_by:
        problems.append(f"did not say it took over the lock of pid {record.lock_left_by}")
    return problems


def finished_run_problems(run: Path, epochs: int, reference: dict[str, np.ndarray]) -> list[str]:
    """Compare a finished run with the uninterrupted one: every checkpoint array, metrics rows, generator."""
    import csv

    problems = []
    final = checkpoint_arrays(run)
    if not same_arrays(final, reference):
        keys = sorted(k for k in final.keys() | reference.keys()
                      if k not in final or k not in reference or not same_arrays({k: final[k]}, {k: reference[k]}))
        problems.append(f"{run.name}: final checkpoint differs from the uninterrupted run's in {', '.join(keys[:5])}"
                        + (f" and {len(keys) - 5} more" if len(keys) > 5 else ""))
    with open(run / "metrics.csv", newline="") as handle:
        rows = [int(row["epoch"]) for row in csv.DictReader(handle)]
    if rows != list(range(1, epochs + 1)):
        problems.append(f"{run.name}: metrics.csv epochs {rows}")
    for name in ("generator.keras", "progress.gif"):
        if not (run / name).is_file():
            problems.append(f"{run.name}: no {name}")
    return problems


def kill_matrix(work: Path, kills: int, seed: int, epochs: int, data: Path = FIXTURE,
                schedule: list[Moment] | None = None, reference: dict[str, np.ndarray] | None = None,
                log=print) -> dict:
    """Kill ``kills`` times (moments from ``schedule``, else drawn from ``seed``); return the tally.

    ``reference`` is the final checkpoint of an uninterrupted run of the same command;
    without it one is trained first (in a subprocess, timing the random delays too).

    Returns:
        ``{"kills", "unloadable", "runs", "equal", "problems", "records"}``; ``equal`` is True when
        every finished run matches the uninterrupted one bit for bit.
    """
    rng = random.Random(seed)
    full_seconds = 10.0
    if reference is None:
        started = time.perf_counter()
        run_to_end(work / "uninterrupted", data, epochs, work / "uninterrupted.log")
        full_seconds = time.perf_counter() - started
        reference = checkpoint_arrays(work / "uninterrupted")
        log(f"uninterrupted run: {epochs} epochs in {full_seconds:.1f} s")
    records, problems, runs = [], [], 0
    run = work / f"run{runs}"
    while sum(r.killed for r in records) < kills:
        index = sum(r.killed for r in records)
        if schedule:
            moment = schedule[index]
        elif rng.random() < DURING_WRITE_SHARE:  # one of the checkpoint writes this start has left to do
            done = max(read_checkpoint(run)[0] or 0, 0)
            moment = Moment("write", rng.randint(1, max(1, epochs - done)))
        else:
            # Up to 3/4 of a whole run: most delays end mid-run, some after the checkpoint in place.
            moment = Moment("delay", rng.uniform(0.5, 0.75 * full_seconds))
        record = start_once(run, data, epochs, moment, rng, work / f"start{len(records)}.log")
        records.append(record)
        problems += [f"start {len(records)}: {p}" for p in check_interruption(record, epochs)]
        log(f"{len(records):>3} {record.describe()}")
        if not record.killed:  # it ended before the kill: judge it, and aim the next kills at a new run
            if record.returncode == 0:
                problems += finished_run_problems(run, epochs, reference)
            runs += 1
            run = work / f"run{runs}"
    if run.exists():
        try:
            record = run_to_end(run, data, epochs, work / "final.log")
        except RuntimeError as exc:
            problems.append(f"final start: {exc}")
        else:
            records.append(record)
            problems += [f"final start: {p}" for p in check_interruption(record, epochs)]
            log(f"{len(records):>3} {record.describe()}")
            problems += finished_run_problems(run, epochs, reference)
        runs += 1
    return {
        "kills": sum(r.killed for r in records),
        "unloadable": sum(not r.loadable for r in records),
        "runs": runs,
        "equal": not any("differs" in p for p in problems),
        "problems": problems,
        "records": records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random kill schedule.")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=FIXTURE)
    parser.add_argument("--work", type=Path, default=None, help="Keep the runs here (default: a temporary folder).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gantool-kill-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tally = kill_matrix(work, args.kills, args.seed, args.epochs, args.data)
    for problem in tally["problems"]:
        print(f"problem: {problem}")
    print(f"kills {tally['kills']}, unloadable checkpoints {tally['unloadable']}, "
          f"resumed == uninterrupted: {tally['equal']} ({tally['runs']} runs)")
    return 0 if not tally["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
