"""The packages' layering (docs/design.md): no import cycle, and every arrow points down.

Imports are read from the source with :mod:`ast`, those inside functions included, so a
lazy import cannot hide a cycle or an upward arrow.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Which gantool packages each package may import (besides itself). "gantool" is the package root.
ALLOWED = {
    "gantool": set(),
    "runtime": {"gantool"},
    "judge": {"gantool", "runtime"},
    "export": {"gantool", "runtime", "judge"},
    "bench": {"gantool", "runtime", "judge", "export"},
    "train": {"gantool", "runtime", "judge", "export"},
    "web": {"gantool", "runtime"},
    "cli": {"gantool", "runtime", "judge", "export", "bench", "train", "web"},
}


def package_folders() -> dict[str, Path]:
    """``{import name: folder}`` from pyproject's package-dir, the one source of the layout."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {name: ROOT / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def modules() -> dict[str, Path]:
    """Every gantool module: ``{dotted name: file}``."""
    found = {}
    folders = package_folders()
    for package, folder in folders.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if any(f"{package}.{'.'.join(parts[:i])}" in folders for i in range(1, len(parts))):
                continue  # belongs to a sub-package mapped on its own
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The gantool modules ``path`` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known}


def layer(module: str) -> str:
    if module == "gantool.__main__":  # ``python -m gantool``: the command line's entry point
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "gantool"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, name, set(found)) - {name} for name, path in found.items()}


def test_every_package_has_a_layer():
    assert {layer(name) for name in modules()} == set(ALLOWED)


def test_arrows_point_down(graph):
    upward = [f"{src} imports {dst}" for src, targets in graph.items() for dst in targets
              if layer(dst) != layer(src) and layer(dst) not in ALLOWED[layer(src)]]
    assert not upward, "\n".join(upward)


def test_no_import_cycle(graph):
    # Imports of a package's __init__ from its own modules are the package's face, not a cycle
    # in the code: ignore the edge from a module to its own package.
    edges = {src: {dst for dst in targets if not src.startswith(dst + ".")} for src, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def test_runtime_needs_nothing_above_it(graph):
    leaks = [f"{src} imports {dst}" for src, targets in graph.items() if layer(src) == "runtime"
             for dst in targets if layer(dst) not in ("runtime", "gantool")]
    assert not leaks, "\n".join(leaks)
