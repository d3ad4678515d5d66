"""Typed errors shared by every gantool package.

The command line turns a :class:`GantoolError` into one line on stderr and
exit code 2 (the user can fix it); anything else is an internal error (exit 1).

Messages name the library's parameters in backticks (```count` must be at least 1``), so
they read right from Python; the command line writes each such name as its flag
(``--count must be at least 1``, see :func:`gantool.cli.app.as_flags`).
"""


class GantoolError(ValueError):
    """Base class: a problem the user can fix; the message says how."""


class DataError(GantoolError):
    """The training data is missing, truncated or not MNIST-shaped."""


class ModelFileError(GantoolError):
    """A model path does not exist, is not a model, or cannot be read."""


class ContractError(GantoolError):
    """A model's contract (latent size, image shape, value range) is missing or invalid."""


class MissingExtraError(GantoolError):
    """An optional dependency is not installed; the message names the pip extra."""


class UnsupportedFormatError(GantoolError):
    """An export format / quantization pair that gantool does not support."""


class ConversionError(GantoolError):
    """A converter failed, or produced a model the runtime cannot run (e.g. a Flex op)."""


class ExportValidationError(GantoolError):
    """An exported model does not match its Keras source within the stated bound."""

    def __init__(self, message: str, *, max_abs_diff: float | None = None) -> None:
        super().__init__(message)
        self.max_abs_diff = max_abs_diff


class CheckpointError(GantoolError):
    """A training checkpoint is missing, corrupt or from another configuration."""


class RunLockedError(GantoolError):
    """Another running process is writing the run folder; the message names it (pid, start, command)."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message, cut at ``limit`` characters; its type's name when it has none.

    Third-party libraries raise multi-line messages (tracebacks of C++ code, whole graphs); one
    line of them is what fits in one of gantool's one-line errors.
    """
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
