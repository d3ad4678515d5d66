"""One-line usage errors: a malformed option prints like every other gantool error.

Click's own report of a usage error (``--seed abc``, an unknown option, a
missing ``--model``) is four lines: usage, a hint, a blank line and the error.
gantool promises one line on stderr and exit code 2 for every error the user
can fix, so the command group re-raises those errors as
:class:`OneLineUsageError`, which prints ``error: <what> (see: <command> --help)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from typer.core import TyperGroup

try:  # Typer >= 0.20 vendors Click; older releases depend on it.
    from typer._click import exceptions as click_exceptions
except ImportError:
    from click import exceptions as click_exceptions

# `gantool` with no arguments shows the help through a UsageError subclass; keep that as it is.
_HELP_ERRORS = tuple(getattr(click_exceptions, name) for name in ("NoArgsIsHelpError",)
                     if hasattr(click_exceptions, name))


class OneLineUsageError(click_exceptions.ClickException):
    """A usage error shown as one line that names the problem and where the help is."""

    exit_code = 2

    def __init__(self, error: click_exceptions.UsageError) -> None:
        super().__init__(error.format_message().strip().replace("\n", " "))
        self.command_path = error.ctx.command_path if error.ctx is not None else "gantool"

    def show(self, file=None) -> None:
        typer.echo(f"error: {self.message} (see: {self.command_path} --help)", err=True)


@contextlib.contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Turn a Click usage error raised inside the block into a :class:`OneLineUsageError`."""
    try:
        yield
    except _HELP_ERRORS:
        raise
    except click_exceptions.UsageError as error:
        raise OneLineUsageError(error) from None


class OneLineUsageGroup(TyperGroup):
    """The ``gantool`` command group, parsing its own and its commands' options with one-line errors."""

    def make_context(self, info_name, args, parent=None, **extra):
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        # A command's options are parsed inside the group's invoke (Command.make_context).
        with one_line_usage_errors():
            return super().invoke(ctx)
