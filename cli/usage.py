"""One-line usage errors: a malformed option prints like every other gantool error.

Click's own report of a usage error (``--seed abc``, an unknown option, a
missing ``--model``) is four lines: usage, a hint, a blank line and the error.
gantool promises one line on stderr and exit code 2 for every error the user
can fix, so the command group prints those errors as
``error: <what> (see: <command> --help)`` and exits 2.

Typer 0.20 and later vendor Click under a private module, older releases depend
on Click itself; either way the exception is a class named ``UsageError`` (or a
subclass of one), which is what :func:`is_usage_error` looks for, so nothing
here imports a private module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from typer.core import TyperGroup

# `gantool` with no arguments shows the help through a UsageError subclass; keep that as it is.
_HELP_ERRORS = ("NoArgsIsHelpError",)


def is_usage_error(error: BaseException) -> bool:
    """Whether ``error`` is Click's usage error (bad option, missing option, bad value), help requests aside."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return "UsageError" in names and not names.intersection(_HELP_ERRORS)


@contextlib.contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Print a Click usage error raised inside the block as one line and exit 2."""
    try:
        yield
    except Exception as error:
        if not is_usage_error(error):
            raise
        message = error.format_message().strip().replace("\n", " ")
        context = getattr(error, "ctx", None)
        command_path = context.command_path if context is not None else "gantool"
        typer.echo(f"error: {message} (see: {command_path} --help)", err=True)
        raise typer.Exit(2) from None


class OneLineUsageGroup(TyperGroup):
    """The ``gantool`` command group, parsing its own and its commands' options with one-line errors."""

    def make_context(self, info_name, args, parent=None, **extra):
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        # A command's options are parsed inside the group's invoke (Command.make_context).
        with one_line_usage_errors():
            return super().invoke(ctx)
