"""Named training recipes: complete, documented schedules that ``gantool train --recipe`` runs.

A recipe is data: the :class:`~gantool.train.config.TrainConfig` settings of every phase, and
the figures it reached (with n, the epoch and the date measured), so ``--help`` and the docs
read one source. A multi-phase recipe runs in one command; ``resume`` continues it in
whichever phase it stopped. Each arch's tutorial settings are recipes of this table too.

Example:
    >>> from gantool.train.recipes import recipe, run_recipe
    >>> run_recipe(recipe("default"), "runs/default", data="mnist.npz")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gantool.errors import GantoolError
from gantool.train.config import Group, TrainConfig


@dataclasses.dataclass(frozen=True)
class Phase:
    """One stretch of a schedule.

    Args:
        until: the epoch this phase ends at (counted from the start of the run).
        decay: the fraction of this phase's epochs over which both learning rates fall
            linearly to 0 (0: constant rates). A fraction, not an epoch, so that a shorter
            or longer ``epochs`` keeps the recipe's shape.
        settings: what this phase changes on the recipe's settings (e.g. a stronger class reward).
    """

    until: int
    decay: float = 0.0
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Measured:
    """Figures a recipe reached: ``gantool eval`` of its final generator at ``count`` digits."""

    mnist_score: float
    fid: float
    class_kl: float
    min_class_share: float
    count: int
    epoch: int
    date: str
    seed: int = 0

    def describe(self) -> str:
        return (f"MNIST score {self.mnist_score:.2f}, FID {self.fid:.3f}, class KL {self.class_kl:.4f}, "
                f"smallest class {self.min_class_share:.1%} (n={self.count:,}, epoch {self.epoch}, seed {self.seed}, "
                f"{self.date})")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named schedule: settings shared by every phase, then the phases in order.

    ``resumable_from``: the earliest version whose runs this code can resume. A version that changes
    the networks the recipe builds (not only its settings) sets it to itself: the checkpoint of an
    earlier one does not fit the networks built now, so resuming it is refused in one line.
    """

    name: str
    version: int
    arch: str
    summary: str
    settings: dict[str, Any]
    phases: tuple[Phase, ...]
    measured: tuple[Measured, ...] = ()
    resumable_from: int = 0

    @property
    def epochs(self) -> int:
        return self.phases[-1].until

    def configs(self, overrides: dict[str, Any] | None = None) -> list[TrainConfig]:
        """One :class:`TrainConfig` per phase, each with ``epochs`` at that phase's end.

        ``overrides`` (explicit settings, e.g. from flags) apply to every phase, except two:
        ``epochs`` stretches or shrinks the whole schedule (every phase keeps its share of the
        epochs, and a phase that would get none is left out, so ``epochs=1`` trains a one-epoch
        version of any recipe), and ``lr_decay_start`` sets the last phase's decay start.
        """
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - OVERRIDABLE)
        if unknown:
            raise GantoolError(f"a recipe has no setting {', '.join(map(repr, unknown))}; "
                               f"settings: {', '.join(sorted(OVERRIDABLE))}")
        total = overrides.pop("epochs", self.epochs)
        if not isinstance(total, int) or isinstance(total, bool) or total < 1:
            raise GantoolError(f"`epochs` must be a positive integer, got {total!r}")
        decay_start = overrides.pop("lr_decay_start", None)
        recorded = dict(sorted({**overrides, **_given(total, decay_start, self)}.items()))
        phases = self.scaled(total)
        configs, start = [], 0
        for index, (end, phase) in enumerate(phases):
            last = index == len(phases) - 1
            decay = decay_start if last and decay_start is not None else decay_epoch(start, end, phase.decay)
            configs.append(TrainConfig(arch=self.arch, epochs=end, lr_decay_start=decay, recipe=self.name,
                                       recipe_version=self.version, overrides=recorded,
                                       **{**self.settings, **phase.settings, **overrides}))
            start = end
        return configs

    def scaled(self, total: int) -> list[tuple[int, Phase]]:
        """Each phase's last epoch when the whole schedule takes ``total`` epochs (empty phases left out)."""
        ends = [round(phase.until * total / self.epochs) for phase in self.phases[:-1]] + [total]
        kept, start = [], 0
        for end, phase in zip(ends, self.phases, strict=True):
            if end > start:
                kept.append((end, phase))
                start = end
        return kept

    def help_line(self) -> str:
        figures = f" Reached: {self.measured[0].describe()}." if self.measured else ""
        phases = f", {len(self.phases)} phases" if len(self.phases) > 1 else ""
        return f"{self.name} (v{self.version}, {self.arch}, {self.epochs} epochs{phases}): {self.summary}.{figures}"


def _given(epochs: int, decay_start: int | None, recipe: Recipe) -> dict[str, Any]:
    """The schedule overrides, for the record (only those that differ from the recipe)."""
    given = {}
    if epochs != recipe.epochs:
        given["epochs"] = epochs
    if decay_start is not None:
        given["lr_decay_start"] = decay_start
    return given


def decay_epoch(start: int, end: int, fraction: float) -> int:
    """``TrainConfig.lr_decay_start`` for a decay over the last ``fraction`` of epochs ``start..end``.

    0 means constant rates, so a decay over a whole first phase starts at epoch 1; a phase
    too short to decay keeps its rates.
    """
    if not fraction:
        return 0
    first = end - round(fraction * (end - start))
    first = max(first, start, 1)
    return first if first < end else 0


# TrainConfig fields a recipe sets or a flag may override; the rest belong to the run.
OVERRIDABLE = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata["group"] is not Group.record}

# What the tutorial GANs of the other archs use (their own papers' / repositories' settings).
# What the default and class-game recipes share: batch 64, two-time-scale Adam, N(0, 0.02), a weight
# average, an evaluation every epoch.
_GAME = {"batch_size": 64, "lr": 2e-4, "d_lr": 4e-4, "beta1": 0.5, "initializer": "normal", "ema_decay": 0.999,
         "eval_every": 1, "eval_count": 2000}
# The class game of the model bundled until December 2026: a class head on the critic, pushed towards uncertainty on fakes.
_CLASS_GAME = {**_GAME, "aux_fake_weight": 3.0}
# The DCGAN paper's settings (Radford et al. 2016, and PyTorch's examples/dcgan): batch 128, Adam 2e-4 with
# beta_1 0.5, weights N(0, 0.02); no judge per epoch (the shipped classifier judges digits only). 25 epochs
# is the example's --niter.
_PAPER = {"batch_size": 128, "lr": 2e-4, "beta1": 0.5, "initializer": "normal", "eval_every": 0}

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe(
        "default", 4, "dcgan",
        "the tutorial's generator, whose latent's first 10 components name the digit it draws (read as a "
        "one-hot), judged by the conditional DCGAN's critic told that digit; batch 64, two-time-scale Adam, "
        "N(0, 0.02) init, a weight average with BatchNorm recalibration, top-k; rates decay over the second half",
        {**_GAME, "code_onehot": True, "code_critic": True, "code_gain": 5.0, "top_k": 0.5},
        (Phase(10, decay=0.5),),
        (Measured(9.632, 0.656, 0.0005, 0.095, 10_000, 10, "2026-11-30", seed=0),
         Measured(9.580, 0.663, 0.0005, 0.095, 10_000, 10, "2026-11-30", seed=1)),
    ),
    Recipe(
        "class-game", 1, "dcgan",
        "the schedule of the model bundled until December 2026 (called bundled then): 40 epochs of the class "
        "game (weight 3, entropy reward), then a warm restart with the sharper, stronger class reward, running "
        "balance and top-k",
        {**_CLASS_GAME, "aux_weight": 3.0, "keep_epochs": True},
        (Phase(40, decay=0.5),
         Phase(49, decay=1.0, settings={"aux_weight": 8.0, "aux_sharpen": "max", "aux_balance": "running",
                                        "top_k": 0.5})),
        (Measured(9.310, 0.665, 0.0019, 0.090, 10_000, 49, "2026-11-26"),),
    ),
    Recipe(
        "tutorial", 1, "dcgan",
        "the TensorFlow DCGAN tutorial's own settings (batch 256, Adam 1e-4, Glorot init), for comparison",
        {"batch_size": 256, "lr": 1e-4, "beta1": 0.9, "initializer": "glorot"},
        (Phase(50),),
    ),
    Recipe(
        "mlp", 1, "mlp",
        "the Keras-MNIST-GAN fully connected GAN's settings (batch 128, Adam 2e-4, beta_1 0.5)",
        {"lr": 2e-4, "beta1": 0.5, "batch_size": 128},
        (Phase(20),),
    ),
    Recipe(
        "cdcgan", 1, "cdcgan",
        "conditional DCGAN: batch 64, two-time-scale Adam (2e-4 / 4e-4), beta_1 0.5, N(0, 0.02) init",
        {"lr": 2e-4, "d_lr": 4e-4, "beta1": 0.5, "batch_size": 64, "initializer": "normal"},
        (Phase(20),),
    ),
    Recipe(
        "dcgan-paper", 2, "dcgan-paper",
        "the DCGAN paper's generator and critic at the images' size (32, 64 or 128 pixels, grey or colour; 28: "
        "the tutorial's pair) with its settings: batch 128, Adam 2e-4, beta_1 0.5, N(0, 0.02) init. What "
        "--data DIR trains by default when the images are unlabeled",
        _PAPER,
        (Phase(25),),
        resumable_from=2,  # v2: every layer draws its own initial weights (v1's shared one stream of numbers)
    ),
    Recipe(
        "cdcgan-paper", 3, "cdcgan-paper",
        "dcgan-paper with a label input, one class per sub-folder of the data (sample --label NAME). What "
        "--data DIR trains by default when the images are labeled but not MNIST's ten 28x28 grey classes",
        _PAPER,
        (Phase(25),),
        # v2: the critic projects the label onto summed, not flattened, features; v3: every layer draws
        # its own initial weights (v1 and v2 shared one stream of numbers across a model's layers)
        resumable_from=3,
    ),
    Recipe(
        "quadratic", 1, "quadratic",
        "the 1-D toy: latent 5, Adam 1e-3, batch 128, 200 steps of fresh points per epoch",
        {"latent_dim": 5, "lr": 1e-3, "batch_size": 128, "steps_per_epoch": 200},
        (Phase(40),),
    ),
)}


# Former names: a run or a command that names one gets the recipe it meant.
RENAMED = {"bundled": "class-game"}


def canonical(name: str) -> str:
    """``name``, or what a former recipe name is called now (:data:`RENAMED`)."""
    return RENAMED.get(name, name)


def renamed_note(name: str | None) -> str:
    """One line for a person who asked for a former recipe name, else ""."""
    if name not in RENAMED:
        return ""
    return (f"note: recipe {name} is called {RENAMED[name]} now (the schedule of the model bundled until December "
            "2026); the bundled model is a model of recipe default")


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (or formerly called so); a one-line error listing the recipes otherwise."""
    try:
        return RECIPES[canonical(name)]
    except KeyError:
        raise GantoolError(f"unknown `recipe` {name!r}; choose one of {', '.join(RECIPES)}") from None


def recipe_for(arch: str | None, name: str | None) -> Recipe:
    """The recipe to run: ``name``, else the arch's own (``default`` for the DCGAN).

    ``gantool train --data DIR`` without either lets the images choose
    (:func:`~gantool.train.run_data.recipe_for_data`).
    """
    if name is None:
        return recipe("default" if arch in (None, "dcgan") else arch)
    chosen = recipe(name)
    if arch is not None and arch != chosen.arch:
        raise GantoolError(f"recipe {name} trains `arch` {chosen.arch}, not {arch}; drop `arch` or choose a "
                           f"{arch} recipe ({', '.join(r.name for r in RECIPES.values() if r.arch == arch)})")
    return chosen


def identify(training: dict[str, Any]) -> str | None:
    """The recipe a model's training record names, or whose schedule it followed (older records)."""
    if training.get("recipe"):
        return canonical(str(training["recipe"]))
    resumes = training.get("resumes") or []
    for candidate in RECIPES.values():
        if candidate.arch != training.get("arch") or len(candidate.phases) != len(resumes) + 1:
            continue
        configs = candidate.configs({"seed": training.get("seed", 0)})
        final = configs[-1].to_dict()
        if any(final[key] != training.get(key) for key in TrainConfig.RECIPE_CHANGES):
            continue
        if [r.get("after_epoch") for r in resumes] == [c.epochs for c in configs[:-1]]:
            return candidate.name
    return None


def saved_recipe(out: str | Path) -> tuple[Recipe, dict[str, Any]]:
    """The recipe and overrides the run in ``out`` was trained with, to continue it as it was.

    A run trained before recipes existed, or with an earlier version of its recipe than the table's,
    continues as a one-phase recipe of its own settings: a newer version's schedule is never
    swapped into a run half-way.
    """
    from gantool.train.checkpoint import read_checkpoint_meta
    from gantool.train.trainer import RunDir

    _, saved = read_checkpoint_meta(RunDir(Path(out)).checkpoint)
    if canonical(saved.recipe) in RECIPES and RECIPES[canonical(saved.recipe)].version == saved.recipe_version:
        return RECIPES[canonical(saved.recipe)], dict(saved.overrides)
    settings = {key: value for key, value in saved.to_dict().items()
                if key in OVERRIDABLE and key not in ("epochs", "lr_decay_start")}
    own = Recipe(saved.recipe, saved.recipe_version, saved.arch, "the run's own settings", settings, (Phase(saved.epochs),))
    return own, ({"lr_decay_start": saved.lr_decay_start} if saved.lr_decay_start else {})


def _check_phases_kept(chosen: Recipe, earlier: dict[str, Any], configs: list[TrainConfig], done: int,
                       root: Path) -> None:
    """Refuse a resumption whose ``epochs`` would move the end of a phase the run has already finished."""
    before = [config.epochs for config in chosen.configs(earlier)]
    after = [config.epochs for config in configs]
    finished = [end for end in before[:-1] if end <= done]
    if after[:len(finished)] != finished or len(after) <= len(finished):
        raise GantoolError(f"{root} has trained {done} epochs of recipe {chosen.name} with phases ending at "
                           f"{', '.join(map(str, before))}; `epochs` {after[-1]} would end them at "
                           f"{', '.join(map(str, after))}; resume it without `epochs`, or start a new run")


def _check_networks_kept(saved: TrainConfig, root: Path) -> None:
    """Refuse to resume a run whose recipe version built networks this code no longer builds."""
    current = RECIPES.get(canonical(saved.recipe)) if saved.recipe else None
    if current is not None and saved.recipe_version < current.resumable_from:
        raise GantoolError(f"{root} was trained with recipe {saved.recipe} v{saved.recipe_version}, whose networks "
                           f"this version no longer builds (v{current.version}'s differ); its checkpoint cannot be "
                           "resumed: start a new run (its generator.keras still exports and samples)")


def run_recipe(chosen: Recipe | None, out: str | Path, overrides: dict[str, Any] | None = None,
               data: str | None = None, resume: bool = False, log: Callable[[str], None] = print,
               stop_after: int | None = None, data_changed_ok: bool = False):
    """Train every phase of ``chosen`` into ``out``; with ``resume``, continue in whichever phase it stopped.

    ``chosen`` None (with ``resume``) continues the run with the recipe and overrides it was
    trained with (:func:`saved_recipe`), ``overrides`` on top. Every phase's settings are checked
    before anything is written, and so is the resumption: a run already past the requested
    schedule, or trained with another recipe, is refused.

    ``data``: MNIST or a folder of images (:mod:`~gantool.train.run_data`); ``data_changed_ok`` lets
    ``resume`` go on with images that changed since the run started.

    ``out`` is locked (:mod:`~gantool.train.run_lock`) before anything in it is read, and until the
    last phase ends: this is the one place a training takes the lock, so no other process writes
    ``out`` in between phases, and one started meanwhile is refused.

    Returns:
        the :class:`~gantool.train.trainer.RunDir` of the run.

    Raises:
        RunLockedError: another process is writing ``out``; nothing was written.
    """
    from gantool.train.run_lock import run_lock

    with run_lock(out, log):
        if chosen is None:
            chosen, earlier = saved_recipe(out)
            overrides = {**earlier, **(overrides or {})}
        return _run_phases(chosen, out, overrides, data, resume, log, stop_after, data_changed_ok)


def _run_phases(chosen: Recipe, out: str | Path, overrides: dict[str, Any] | None, data: str | None, resume: bool,
                log: Callable[[str], None], stop_after: int | None, data_changed_ok: bool):
    """:func:`run_recipe`'s work, by the run folder's only writer."""
    from gantool.train.checkpoint import read_checkpoint_meta
    from gantool.train.trainer import RunDir, train

    configs = chosen.configs(overrides)
    run = RunDir(Path(out))
    done = 0
    if resume and run.checkpoint.is_file():
        done, saved = read_checkpoint_meta(run.checkpoint)
        _check_networks_kept(saved, run.root)
        if saved.recipe and canonical(saved.recipe) != chosen.name:
            raise GantoolError(f"{run.root} was trained with recipe {saved.recipe}, not {chosen.name}; "
                               f"resume it with recipe {saved.recipe}")
        if done > configs[-1].epochs:
            raise GantoolError(f"`epochs` {configs[-1].epochs} is below the {done} epochs {run.root} already holds; "
                               f"ask for at least {done}")
        if canonical(saved.recipe) == chosen.name and saved.recipe_version == chosen.version:
            _check_phases_kept(chosen, saved.overrides, configs, done, run.root)
    if stop_after is not None and not 0 < stop_after <= configs[-1].epochs:
        raise GantoolError(f"`stop_after` must be an epoch in [1, `epochs`={configs[-1].epochs}], got {stop_after}")
    for index, config in enumerate(configs):
        last = index == len(configs) - 1
        if done >= config.epochs and not last:
            continue  # this phase is complete
        begin = configs[index - 1].epochs if index else 0
        if len(configs) > 1:
            span = f"epoch {config.epochs}" if begin + 1 == config.epochs else f"epochs {begin + 1}-{config.epochs}"
            log(f"Recipe {chosen.name}, phase {index + 1} of {len(configs)}: {span}")
        phase_stop = stop_after if stop_after is not None and stop_after <= config.epochs else None
        run = train(config, run.root, data=data, resume=resume or index > 0 or done > 0, log=log, stop_after=phase_stop,
                    data_changed_ok=data_changed_ok)
        if phase_stop is not None:
            break
    if stop_after is not None and stop_after < configs[-1].epochs:
        log(f"Stopped after epoch {stop_after} of {configs[-1].epochs}; continue with the same command, `resume` "
            "and without `stop_after`")
    else:
        log(f"Saved {run.generator} and {run.gif}")
    return run
