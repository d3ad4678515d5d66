"""Interrupted training loses at most the current epoch: SIGKILL at chosen and random moments, Ctrl-C.

``gantool train`` runs in a subprocess (a short CPU recipe: 3 epochs of 2 steps)
and is killed during a checkpoint write, at a random moment after resuming, and
during another write; after each kill the checkpoint must load and the next start
must resume from its epoch. The finished run must equal an uninterrupted one in
every array of the final checkpoint, bit for bit. tests/kill_matrix.py does the
same with 20 random kills; this test imports its harness.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess

import pytest
from typer.testing import CliRunner

from gantool.cli import app

from . import kill_matrix as km
from .conftest import FIXTURE_NPZ

pytestmark = pytest.mark.slow
EPOCHS = 3
# The kill schedule's random delay is drawn from this seed (override to explore).
SEED = int(os.environ.get("GANTOOL_KILL_SEED", "7"))




@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Every array of the final checkpoint of the same command, run once without interruption (in-process)."""
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    command = km.train_command(run, FIXTURE_NPZ, EPOCHS, resume=False)
    result = CliRunner().invoke(app, command[command.index("train"):])
    assert result.exit_code == 0, result.output
    return km.checkpoint_arrays(run)


def test_sigkill_anywhere_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    rng = random.Random(SEED)
    schedule = [
        km.Moment("write", 2),  # the fresh start dies writing epoch 2: epoch 1 must survive
        km.Moment("after_resume", rng.uniform(0.0, 1.0)),  # mid-epoch, at a random moment
        km.Moment("write", 1),  # the next start dies writing its first checkpoint
    ]
    tally = km.kill_matrix(tmp_path, kills=3, seed=SEED, epochs=EPOCHS, schedule=schedule, reference=uninterrupted)
    records = tally["records"]
    print("\n".join(record.describe() for record in records))
    assert not tally["problems"], tally["problems"]
    assert tally["kills"] == 3 and tally["unloadable"] == 0 and tally["equal"] and tally["runs"] == 1
    first = records[0]
    assert "MB out" in first.moment and (first.epoch_before, first.epoch_after) == (None, 1)
    resumed = [r for r in records[1:] if r.epoch_before is not None]
    assert resumed and all(r.resumed_from == r.epoch_before for r in resumed)
    # The temporary files the kills left mid-write were cleared by the next save.
    assert not list((tmp_path / "run0" / "checkpoints").glob(".last.npz.*"))


def test_killed_after_the_last_checkpoint_resume_writes_the_generator(tmp_path, tiny_run):
    """A kill between the last epoch's checkpoint and generator.keras / progress.gif: resuming finishes the run."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "generator.keras").unlink()
    (run / "progress.gif").unlink()
    args = ["train", "--data", str(FIXTURE_NPZ), "--out", str(run), "--resume", "--epochs", "1", "--batch-size", "32",
            "--steps-per-epoch", "2", "--seed", "7", "--lr", "2e-4", "--beta1", "0.5"]  # tests/conftest.py's tiny_config
    before = km.checkpoint_arrays(run)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (run / "generator.keras").is_file() and (run / "progress.gif").is_file()
    assert km.same_arrays(km.checkpoint_arrays(run), before)  # nothing trained twice
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already finished 1 epochs" in again.stderr


def test_ctrl_c_during_a_checkpoint_write_stops_after_saving(tmp_path):
    run = tmp_path / "run"
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(km.train_command(run, FIXTURE_NPZ, EPOCHS, resume=False), stdout=stdout,
                                   stderr=stderr, env=km.subprocess_env())
        assert km.wait_for_checkpoint_write(process, run, 1) is not None, out.read_text()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert process.returncode == 130, (process.returncode, err.read_text(), out.read_text()[-2000:])
    assert len(lines) == 1 and "Traceback" not in err.read_text(), err.read_text()
    assert lines[0].startswith("error: interrupted;") and "--resume" in lines[0]
    # Ctrl-C waited for the checkpoint being written: epoch 1 is on disk, whole, and nothing is left half-done.
    assert km.read_checkpoint(run) == (1, True)
    assert not list((run / "checkpoints").glob(".last.npz.*"))
