"""The ``gantool`` command line.

Heavy libraries are imported inside each command, so ``gantool --help`` and
``gantool sample`` never import TensorFlow. Errors the user can fix print one
line on stderr and exit 2; internal errors exit 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Annotated

import typer

from gantool.cli.usage import OneLineUsageGroup

app = typer.Typer(
    name="gantool",
    cls=OneLineUsageGroup,
    help="Train a DCGAN digit generator, export it to ONNX/TFLite, and sample it without TensorFlow.",
    epilog=(
        "Examples:\n\n"
        "  gantool train --data mnist.npz --epochs 20 --out runs/dcgan\n\n"
        "  gantool export --format onnx --model runs/dcgan --out g.onnx\n\n"
        "  gantool sample --model g.onnx --out grid.png --count 64 --seed 3"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
_state = {"debug": False}


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# The library names its parameters in backticks (`eval_count`); the command line speaks flags.
_PARAMETER = re.compile(r"`([a-z_][a-z0-9_]*)`")


def as_flags(message: str, aliases: dict[str, str] | None = None, command=None) -> str:
    """``message`` with each backticked parameter of ``command`` written as its flag.

    The flags are read from the command function's own ``Annotated[..., typer.Option(...)]``
    declarations (an option without names is ``--name-with-dashes``). ``aliases`` maps library
    parameter names that differ from the option's name (say ``ema_decay``) to that option's name
    (``ema``). Names that are no option stay as written.
    """
    flags = command_flags(command) if command is not None else {}
    for name, option in (aliases or {}).items():
        if option in flags:
            flags.setdefault(name, flags[option])
    return _PARAMETER.sub(lambda m: flags.get(m.group(1), m.group(0)), message)


def command_flags(command) -> dict[str, str]:
    """Parameter name -> its first flag (``--json`` for ``json_out``), from the command's signature."""
    import inspect
    import typing

    command = inspect.unwrap(command)
    parameters = inspect.signature(command).parameters
    try:
        hints = typing.get_type_hints(command, include_extras=True)
    except Exception:  # a signature built at run time (the train flags) carries its annotations as objects
        hints = {}
    flags = {}
    for name, parameter in parameters.items():
        hint = hints.get(name, parameter.annotation)
        option = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, typer.models.OptionInfo)), None)
        if option is None and isinstance(parameter.default, typer.models.OptionInfo):
            option = parameter.default
        # In Annotated form Typer keeps an option's first name as its ``default`` and the rest as ``param_decls``.
        names = [option.default, *(option.param_decls or ())] if option else []
        declared = [d.split("/")[0] for d in names if isinstance(d, str) and d.startswith("--")]
        flags[name] = declared[0] if declared else "--" + name.replace("_", "-")
    return flags


def handle_errors(command):
    """Turn GantoolError into one line + exit 2, anything else into one line + exit 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from gantool.errors import GantoolError

        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except GantoolError as exc:
            if _state["debug"]:
                raise
            # Read from the wrapper: a command module sets ``parameter_aliases`` on the name it
            # exports, which is this wrapper (functools.wraps copied any set before wrapping).
            raise fail(as_flags(str(exc), getattr(wrapper, "parameter_aliases", None), command)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            # The reader went away (e.g. `gantool info | head`): stop quietly, as Unix tools do.
            sys.stderr.close()
            raise typer.Exit(0) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            raise fail(f"internal error: {type(exc).__name__}: {str(exc)[:300]} (rerun with --debug for the traceback)", 1) from None

    return wrapper


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug
    # TensorFlow's C++ start-up chatter hides gantool's own output; --debug keeps it.
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # What TF 2.21 logs while loading ignores that variable (see gantool.cli.quiet).
        from gantool.cli.quiet import quiet_tensorflow_startup

        quiet_tensorflow_startup()


def run() -> None:
    """Console-script entry: run the app; exit codes come from the commands."""
    app()
