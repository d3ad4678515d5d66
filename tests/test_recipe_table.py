"""Recipes as data: the table, `gantool train --recipe`, multi-phase runs and their resumption."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import GantoolError
from gantool.train.recipes import RECIPES, Phase, Recipe, decay_epoch, identify, recipe, recipe_for, run_recipe

from .conftest import FIXTURE_NPZ

runner = CliRunner()
SMALL = ("--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "32", "--seed", "7")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_table_has_the_required_recipes_and_each_arch_its_own():
    assert {"default", "class-game", "tutorial", "mlp", "cdcgan", "quadratic"} <= set(RECIPES)
    assert recipe("bundled") is recipe("class-game")  # its former name
    assert recipe_for(None, None).name == "default"
    assert recipe_for("cdcgan", None).name == "cdcgan"
    assert recipe("tutorial").configs()[-1].batch_size == 256 and recipe("tutorial").configs()[-1].lr == 1e-4
    for chosen in RECIPES.values():
        configs = chosen.configs()  # every phase is a valid TrainConfig
        assert [c.epochs for c in configs] == [p.until for p in chosen.phases]
        assert all(c.recipe == chosen.name and c.recipe_version == chosen.version for c in configs)


def test_class_game_recipe_is_the_formerly_shipped_models_schedule():
    """Phase by phase, class-game's settings are those in the training record of the model bundled until
    December 2026 (tests/data/class_game_training.json, copied from that model's contract)."""
    training = json.loads((Path(__file__).parent / "data" / "class_game_training.json").read_text())
    assert identify(training) == "class-game" and identify({**training, "recipe": "bundled"}) == "class-game"
    first, second = recipe("class-game").configs()
    assert (first.epochs, first.lr_decay_start, second.epochs, second.lr_decay_start) == (40, 20, 49, 40)
    final = second.to_dict()
    for key in ("batch_size", "lr", "d_lr", "beta1", "ema_decay", "aux_weight", "aux_fake_weight", "aux_balance",
                "aux_sharpen", "top_k", "initializer"):
        assert final[key] == training[key], key
    changed = training["resumes"][0]["changed"]
    assert all(first.to_dict()[key] == before for key, (before, _) in changed.items())


def test_info_names_the_bundled_models_recipe():
    result = invoke("info")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("recipe"))
    assert "default" in line


def test_decay_is_a_fraction_of_the_phase():
    assert decay_epoch(0, 20, 0.5) == 10 and decay_epoch(40, 49, 1.0) == 40
    assert decay_epoch(0, 20, 0.0) == 0
    assert decay_epoch(0, 1, 0.5) == 0  # too short to decay: constant rates
    assert recipe("default").configs({"epochs": 40})[-1].lr_decay_start == 20
    assert recipe("default").configs({"epochs": 40, "lr_decay_start": 30})[-1].lr_decay_start == 30


def test_overrides_apply_to_every_phase_and_are_recorded():
    first, second = recipe("class-game").configs({"seed": 4, "epochs": 98})
    assert first.seed == second.seed == 4 and (first.epochs, second.epochs) == (80, 98)
    assert (first.lr_decay_start, second.lr_decay_start) == (40, 80)
    assert second.overrides == {"epochs": 98, "seed": 4}
    with pytest.raises(GantoolError, match="`epochs` must be a positive integer"):
        recipe("class-game").configs({"epochs": 0})


def test_epochs_keep_each_phases_share_and_drop_empty_phases():
    two = two_phases()  # phases end at 2 and 3
    assert [(c.epochs, c.aux_weight) for c in two.configs({"epochs": 6})] == [(4, 1.0), (6, 2.0)]
    assert [(c.epochs, c.aux_weight) for c in two.configs({"epochs": 1})] == [(1, 1.0)]
    assert [c.epochs for c in recipe("class-game").configs({"epochs": 6})] == [5, 6]
    assert [c.epochs for c in recipe("class-game").configs({"epochs": 2})] == [2]
    with pytest.raises(GantoolError, match="no setting 'colour'"):
        recipe("default").configs({"colour": 1})


@pytest.mark.parametrize("name", ["tutorial", None])
@pytest.mark.slow
def test_cli_trains_a_recipe_and_records_it(tmp_path, name):
    """One whole epoch of the small MNIST file (2,000 digits) at the recipe's own batch size."""
    out = tmp_path / "run"
    result = invoke("train", "--data", FIXTURE_NPZ, "--out", out, "--epochs", "1", "--seed", "7",
                    *(["--recipe", name] if name else []))
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    training = saved["contract"]["training"]
    assert training["recipe"] == (name or "default") and training["recipe_version"] == recipe(name or "default").version
    assert training["overrides"] == {"epochs": 1, "seed": 7}
    assert saved["training"]["steps_per_epoch"] is None  # a whole pass over the file
    assert (out / "generator.keras").is_file()
    expected = recipe(name or "default").settings
    assert all(saved["training"][key] == value for key, value in expected.items() if key not in training["overrides"])


@pytest.mark.slow
def test_shared_fakes_trains_and_needs_one_critic_update(tmp_path):
    """``--shared-fakes`` (the tutorial's step: one batch of fakes for both updates) trains, and is recorded."""
    out = tmp_path / "run"
    result = invoke("train", "--data", FIXTURE_NPZ, "--out", out, "--epochs", "1", "--steps-per-epoch", "3",
                    "--eval-every", "0", "--shared-fakes", "--mixed-precision")
    assert result.exit_code == 0, result.output
    training = json.loads((out / "config.json").read_text())["training"]
    assert training["shared_fakes"] is True and training["mixed_precision"] is True
    with pytest.raises(GantoolError, match="`shared_fakes` feeds one critic update"):
        recipe("default").configs({"shared_fakes": True, "d_steps": 2})


def test_unknown_recipe_is_one_line_listing_the_recipes(tmp_path):
    result = invoke("train", "--data", FIXTURE_NPZ, "--out", tmp_path / "run", "--recipe", "fast")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "unknown --recipe 'fast'" in result.output
    assert all(name in result.output for name in RECIPES)
    assert not (tmp_path / "run").exists()


def two_phases(**settings) -> Recipe:
    base = {"batch_size": 32, "steps_per_epoch": 1, "seed": 3, "aux_weight": 1.0, "ema_decay": 0.9, **settings}
    return Recipe("two-phase", 1, "dcgan", "test", base,
                  (Phase(2, decay=0.5), Phase(3, decay=1.0, settings={"aux_weight": 2.0, "top_k": 0.5})))


@pytest.mark.slow
def test_a_multi_phase_recipe_resumes_in_the_phase_it_stopped(tmp_path):
    """Stopped inside phase 1, then resumed: it finishes phase 1, then runs phase 2 with phase 2's settings.

    (Resumption itself is exact: tests/test_train.py and tests/test_interrupt.py.)
    """
    quiet = dict(data=str(FIXTURE_NPZ), log=lambda *_: None)
    lines = []
    run_recipe(two_phases(), tmp_path / "run", stop_after=1, **quiet)
    run = run_recipe(two_phases(), tmp_path / "run", resume=True, data=str(FIXTURE_NPZ), log=lines.append)
    assert [line for line in lines if line.startswith("Recipe")] == [
        "Recipe two-phase, phase 1 of 2: epochs 1-2", "Recipe two-phase, phase 2 of 2: epoch 3"]
    record = json.loads(run.config.read_text())["contract"]["training"]
    assert record["resumes"] == [{"after_epoch": 2, "changed": {
        "aux_weight": [1.0, 2.0], "epochs": [2, 3], "lr_decay_start": [1, 2], "top_k": [1.0, 0.5]}}]
    assert [row.split(",")[0] for row in run.metrics.read_text().splitlines()[1:]] == ["1", "2", "3"]
    assert identify(record) == "two-phase"


@pytest.mark.slow
def test_an_override_that_cannot_apply_changes_nothing(tmp_path):
    quiet = dict(data=str(FIXTURE_NPZ), log=lambda *_: None)
    run = run_recipe(two_phases(), tmp_path / "run", stop_after=2, **quiet)
    before = snapshot(run.root)
    with pytest.raises(GantoolError, match="below the 2 epochs"):
        run_recipe(dataclasses.replace(two_phases(), phases=(Phase(1),)), run.root, resume=True, **quiet)
    with pytest.raises(GantoolError, match="trained with recipe two-phase, not default"):
        run_recipe(recipe("default"), run.root, {"epochs": 3}, resume=True, **quiet)
    with pytest.raises(GantoolError, match="phases ending at 2, 3; `epochs` 6 would end them at 4, 6"):
        run_recipe(two_phases(), run.root, {"epochs": 6}, resume=True, **quiet)  # phase 1 is finished at 2
    assert snapshot(run.root) == before


def test_cli_resume_below_the_trained_epochs_is_one_line(tmp_path):
    out = tmp_path / "run"
    args = ("train", "--data", FIXTURE_NPZ, "--out", out, "--recipe", "tutorial", "--steps-per-epoch", "1",
            "--batch-size", "32")
    assert invoke(*args, "--epochs", "2").exit_code == 0
    before = snapshot(out)
    result = invoke("train", "--data", FIXTURE_NPZ, "--out", out, "--resume", "--epochs", "1")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "--epochs 1 is below the 2 epochs" in result.output
    assert snapshot(out) == before


@pytest.mark.slow
def test_resume_keeps_the_version_of_the_recipe_a_run_was_started_with(tmp_path, monkeypatch):
    """A run of `default` at an earlier version resumes with its own settings, not the table's newer ones."""
    from gantool.train import recipes

    out = tmp_path / "run"
    assert invoke("train", "--data", FIXTURE_NPZ, "--out", out, *SMALL, "--stop-after", "1", "--epochs", "2").exit_code == 0
    started = json.loads((out / "config.json").read_text())["training"]
    gain = started["code_gain"]
    newer = dataclasses.replace(RECIPES["default"], version=RECIPES["default"].version + 1,
                                settings={**RECIPES["default"].settings, "code_gain": gain / 2, "top_k": 0.25})
    monkeypatch.setitem(recipes.RECIPES, "default", newer)
    chosen, earlier = recipes.saved_recipe(out)
    assert chosen.version == started["recipe_version"] and chosen.settings["top_k"] == started["top_k"]
    result = invoke("train", "--data", FIXTURE_NPZ, "--out", out, "--resume")
    assert result.exit_code == 0, result.output
    resumed = json.loads((out / "config.json").read_text())["training"]
    assert (resumed["epochs"], resumed["code_gain"], resumed["top_k"]) == (2, gain, started["top_k"])
