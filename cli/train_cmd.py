"""``gantool train``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from gantool.cli.app import app, as_flags, fail, handle_errors

TRAIN_HELP = (
    "Train a GAN with checkpoints, sample grids, logs and resume, following a named recipe.\n\n"
    "A recipe is a complete schedule (all its phases run in one command; --resume continues in "
    "whichever phase a run stopped). Without --recipe, the DCGAN trains the `default` recipe and "
    "every other arch its own; your own images (--data DIR) choose: ten classes of 28x28 greyscale images (as "
    "MNIST's digits) `default`, unlabeled images `dcgan-paper`, other labeled ones `cdcgan-paper` (the DCGAN "
    "paper's at 32, 64 or 128 pixels, grey or colour). Any setting flag below overrides the recipe in every phase; --epochs stretches or "
    "shrinks the whole schedule (each phase keeps its share) and --lr-decay-start sets the last phase's "
    "decay. config.json records the recipe, its version "
    "and every override.\n\n"
    "\b\nRecipes (--recipe):\n{recipes}"
    "\n\n\b\nArchitectures (--arch):\n{archs}"
    "\n\n\b\nExamples:\n"
    "  gantool train --data mnist.npz --out runs/default                # the default recipe (the shipped model's)\n"
    "  gantool train --data digits/ --out runs/mine                     # 28x28 grey images, one sub-folder per class\n"
    "  gantool train --data photos/ --image-size 64 --out runs/photos   # your images at 64x64, grey or colour\n"
    "  gantool train --recipe dcgan-paper --data shapes/ --out runs/s   # the DCGAN paper's, labels ignored\n"
    "  gantool train --recipe class-game --data mnist.npz --out runs/cg # the model shipped until December 2026\n"
    "  gantool train --recipe tutorial --epochs 20 --data mnist.npz --out runs/tutorial\n"
    "  gantool train --arch cdcgan --data mnist.npz --out runs/cdcgan\n"
    "  gantool train --dataset quadratic --out runs/quadratic           # seconds on a CPU\n"
    "  gantool train --out runs/default --resume                        # continue where it stopped"
)

# Flags whose name differs from the setting's (kept short, as they always were).
FLAG_NAMES = {"initializer": "init", "ema_decay": "ema"}
# The --help panel of each group of settings (gantool.train.config.Group); the record group has no flags.
PANELS = {"training": "Training settings (each overrides the recipe)",
          "research": "Research knobs (the recipes set them; each overrides the recipe)"}


class PanelCommand(TyperCommand):
    """A command whose ``--help`` lists its options in panels (each option's ``rich_help_panel``), without rich too."""

    def format_options(self, ctx, formatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        for title, records in panels.items():
            with formatter.section(title):
                formatter.write_dl(records)


def _train_help() -> str:
    import textwrap

    from gantool.train.archs import help_table
    from gantool.train.recipes import RECIPES

    recipes = "\n".join(textwrap.fill(r.help_line(), 100, initial_indent="  ", subsequent_indent="      ")
                        for r in RECIPES.values())
    return TRAIN_HELP.format(recipes=recipes, archs=help_table())


def _setting_options() -> list[inspect.Parameter]:
    """One ``--flag`` per training setting, with the help and panel its declaration carries (field metadata)."""
    import dataclasses
    import typing

    from gantool.train.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    options = []
    for field in dataclasses.fields(TrainConfig):
        group = field.metadata["group"].value
        if group not in PANELS:
            continue
        kind = hints[field.name]
        kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
        flag = "--" + FLAG_NAMES.get(field.name, field.name).replace("_", "-")
        resumable = field.name in TrainConfig.RESUMABLE_CHANGES and field.name not in ("epochs", "keep_epochs")
        text = field.metadata["help"] + (" May change at --resume." if resumable else "")
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(*decls, help=text, show_default=False, rich_help_panel=PANELS[group])
        options.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                         annotation=Annotated[kind | None, option]))
    return options


def train(out: Path, data: str | None, recipe: str | None, arch: str | None, dataset: str | None, resume: bool,
          stop_after: int | None, data_changed_ok: bool, **settings) -> None:
    """``gantool train``: run a recipe (its settings overridden by the flags given)."""
    from gantool.train.archs import resolve_arch
    from gantool.train.recipes import recipe_for, renamed_note, run_recipe
    from gantool.train.run_data import recipe_for_data
    from gantool.train.run_dir import RunDir

    if note := renamed_note(recipe):
        typer.echo(note, err=True)
    given = {name: value for name, value in settings.items() if value is not None}
    chosen = None  # a bare --resume continues with the run's own recipe, read under the run folder's lock
    if not (resume and recipe is None and arch is None and dataset is None):
        spec = resolve_arch(arch, dataset) if arch is not None or dataset is not None else None
        if recipe is None and spec is None and data is not None:
            recipe, why = recipe_for_data(data, given.get("image_size"), given.get("channels"))
            if why:
                typer.echo(f"Recipe {recipe}: {why} (--recipe chooses another)")
        chosen = recipe_for(spec.name if spec else None, recipe)
    try:
        run = run_recipe(chosen, out, given, data=data, resume=resume, stop_after=stop_after,
                         data_changed_ok=data_changed_ok, log=lambda line: typer.echo(as_flags(line, FLAG_NAMES, train)))
    except KeyboardInterrupt:
        # Ctrl-C during a checkpoint save waits for the save (see train.checkpoint), so what is there is whole.
        if RunDir(out).checkpoint.is_file():
            raise fail(f"interrupted; every completed epoch is saved in {out}; to continue, run the same command "
                       "again with --resume", 130) from None
        raise fail("interrupted before the first epoch was saved; nothing to resume, run the same command again",
                   130) from None
    if stop_after is None:
        typer.echo(f"Next: gantool export --format onnx --model {run.root} --out {run.root / 'generator.onnx'}")


_RUN_OPTIONS = [
    inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Path, typer.Option(
        "--out", help="Run folder for checkpoints, grids, logs and generator.keras.")]),
    inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(
        help="MNIST: mnist.npz or a folder of MNIST IDX files (else $GANTOOL_DATA, Keras' cache, download). "
             "Your own images: a folder of them (PNG, JPEG, ...), one sub-folder per class, or an .npz with a uint8 "
             "array x (and labels y); decoded once into --out's data_cache, which --resume reuses.")]),
    inspect.Parameter("recipe", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(
        help="A named recipe (listed above); default: `default` for the DCGAN, else the arch's own; without "
             "--arch, your own images choose (see above).")]),
    inspect.Parameter("arch", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(
        help="dcgan (default), mlp, cdcgan, quadratic, dcgan-paper or cdcgan-paper (see above).")]),
    inspect.Parameter("dataset", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, typer.Option(
        help="mnist (default) or quadratic (implies --arch quadratic).")]),
    inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, typer.Option(
        help="Continue the run in --out from its last complete checkpoint, with its recipe and overrides.")]),
    inspect.Parameter("stop_after", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[int | None, typer.Option(
        help="Stop after this epoch (checkpoint saved) without finishing the schedule; continue later with --resume.")]),
    inspect.Parameter("data_changed_ok", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[bool, typer.Option(
        "--data-changed-ok", help="With --resume: go on although the images in --data are not the ones the run "
        "started with (other pixels or labels; files only renamed, touched or copied need no flag); config.json "
        "records the data they replace. Without it such a resume is refused.")]),
]
train.__signature__ = inspect.Signature(_RUN_OPTIONS + _setting_options())
train.__annotations__ = {p.name: p.annotation for p in train.__signature__.parameters.values()}
train.parameter_aliases = FLAG_NAMES
app.command("train", cls=PanelCommand, help=_train_help())(handle_errors(train))

