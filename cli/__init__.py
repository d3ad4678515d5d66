"""The ``gantool`` command line: parse flags, call one library function, print.

One module per command group registers its commands on :data:`gantool.cli.app.app`, in
the order ``gantool --help`` lists them; each imports its library only inside the command,
so ``gantool --help`` stays light.
"""

# isort: off
from gantool.cli import train_cmd, classifier_cmd, export_cmd, sample_cmd, eval_cmd, bench_cmd, web_cmd  # noqa: F401  (register commands)
# isort: on
from gantool.cli.app import app, run

__all__ = ["app", "run"]
