"""Allow ``python -m gantool``."""

from gantool.cli import run

run()
