"""Training: the run folder's files, checkpoints, resume == uninterrupted, seed determinism."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from gantool.errors import CheckpointError, GantoolError

pytestmark = pytest.mark.slow


def _train(config, out, fixture_npz, resume=False):
    from gantool.train.trainer import train

    return train(config, out, data=str(fixture_npz), resume=resume, log=lambda *_: None)


def _weights(run_dir):
    from gantool.train.checkpoint import CHECKPOINT_NAME

    with np.load(run_dir / "checkpoints" / CHECKPOINT_NAME, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if not k.startswith("meta/config")}


def test_run_folder_has_every_artifact(tiny_run):
    for name in ("generator.keras", "config.json", "progress.gif", "metrics.csv", "checkpoints/last.npz",
                 "samples/epoch_0001.png"):
        assert (tiny_run / name).is_file(), name
    assert any((tiny_run / "tensorboard").iterdir())
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["contract"]["latent_dim"] == 100
    assert config["contract"]["value_range"] == [-1.0, 1.0]
    assert "default_rng(seed)" in config["contract"]["latent_convention"]
    with open(tiny_run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1"]
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(rows[0])
    assert all(np.isfinite(float(rows[0][k])) for k in ("d_loss", "g_loss"))


def test_grid_png_is_an_8x8_grid(tiny_run):
    from PIL import Image

    with Image.open(tiny_run / "samples" / "epoch_0001.png") as image:
        assert image.size == ((8 * 30 + 2) * 2, (8 * 30 + 2) * 2)


def test_resume_equals_uninterrupted_and_seed_is_deterministic(tmp_path, fixture_npz, tiny_config):
    one = dataclasses.replace(tiny_config, ema_decay=0.9)
    two = dataclasses.replace(one, epochs=2)
    _train(two, tmp_path / "straight", fixture_npz)
    _train(one, tmp_path / "resumed", fixture_npz)
    _train(two, tmp_path / "resumed", fixture_npz, resume=True)
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    assert any(key.startswith("ema/") for key in straight)
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    with open(tmp_path / "resumed" / "metrics.csv") as handle:
        assert [r["epoch"] for r in csv.DictReader(handle)] == ["1", "2"]
    # The same seed in a fresh run gives the same weights again; another seed does not.
    _train(two, tmp_path / "again", fixture_npz)
    _train(dataclasses.replace(two, seed=8), tmp_path / "other", fixture_npz)
    again, other = _weights(tmp_path / "again"), _weights(tmp_path / "other")
    np.testing.assert_array_equal(again["generator/0000"], straight["generator/0000"])
    assert not np.array_equal(other["generator/0000"], straight["generator/0000"])


def test_existing_run_needs_resume_and_matching_config(tiny_run, tiny_config, fixture_npz):
    with pytest.raises(GantoolError, match="`resume`"):
        _train(tiny_config, tiny_run, fixture_npz)
    with pytest.raises(GantoolError, match="already finished"):
        _train(tiny_config, tiny_run, fixture_npz, resume=True)
    with pytest.raises(CheckpointError, match="lr"):
        _train(dataclasses.replace(tiny_config, epochs=3, lr=1e-3), tiny_run, fixture_npz, resume=True)


def test_corrupt_checkpoint_is_a_clean_error(tmp_path, tiny_run, tiny_config, fixture_npz):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    checkpoint = run / "checkpoints" / "last.npz"
    checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt"):
        _train(dataclasses.replace(tiny_config, epochs=2), run, fixture_npz, resume=True)


def test_no_checkpoint_to_resume(tmp_path, tiny_config, fixture_npz):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        _train(tiny_config, tmp_path / "empty", fixture_npz, resume=True)


def test_eval_every_logs_quality_and_keeps_best(tmp_path, fixture_npz, tiny_config):
    config = dataclasses.replace(tiny_config, epochs=2, eval_every=1, eval_count=200)
    run = _train(config, tmp_path / "run", fixture_npz)
    with open(run.metrics) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    fids = [float(r["fid"]) for r in rows]
    assert all(np.isfinite(fids)) and all(1.0 <= float(r["mnist_score"]) <= 10.0 for r in rows)
    best = json.loads(run.best_info.read_text())
    assert best["fid"] == min(fids) and best["epoch"] == 1 + fids.index(min(fids))
    assert run.best.is_file()
