"""No code execution from data: no pickle, np.load(allow_pickle=False), Keras safe_mode=True.

The source is scanned (AST, not grep) so a new loader cannot slip in unsafe; the
behaviour is checked on files holding a pickled object array. The command-line side
(``train --data``, ``eval --data``, ``train-classifier --data`` and ``--resume`` each
refusing such a file in one line) is in tests/test_bad_input.py (cases ``*-pickled*``);
the metadata and IDX parsers are fuzzed in tests/test_fuzz.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from gantool.errors import CheckpointError, DataError

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("core", "cli", "train", "export", "runtime", "judge", "bench", "scripts", "research", "benchmarks")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal", "cloudpickle"}


def _source_files() -> list[Path]:
    return sorted(path for folder in SOURCE_FOLDERS for path in (ROOT / folder).rglob("*.py"))


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "not a constant"
    return "missing"


def _violations(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{where} imports {name}" for name in names if name and name.split(".")[0] in UNSAFE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        if name == "load" and owner in ("np", "numpy") and _keyword(node, "allow_pickle") is not False:
            found.append(f"{where} np.load without allow_pickle=False")
        if name == "load_model" and _keyword(node, "safe_mode") is not True:
            found.append(f"{where} load_model without safe_mode=True")
        if name in ("eval", "exec") and isinstance(func, ast.Name):
            found.append(f"{where} calls {name}()")
    return found


def test_source_never_unpickles_or_loads_keras_unsafely():
    files = _source_files()
    assert len(files) > 30  # the scan sees the package, not an empty folder
    violations = [v for path in files for v in _violations(path)]
    assert not violations, "\n".join(violations)


def test_the_scan_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nimport numpy as np\nnp.load('x.npz')\nkeras.saving.load_model('m.keras')\n")
    assert len(_violations(bad, root=tmp_path)) == 3


def test_object_arrays_are_refused_not_unpickled(tmp_path, fixture_npz):
    from gantool.judge.mnist import load_mnist
    from gantool.train.checkpoint import load_checkpoint

    with np.load(fixture_npz, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    data = tmp_path / "mnist.npz"
    np.savez(data, **{**arrays, "y_test": np.array([object()] * len(arrays["y_test"]), dtype=object)})
    with pytest.raises(DataError, match="pickled object array"):
        load_mnist(data)
    checkpoint = tmp_path / "last.npz"
    np.savez(checkpoint, **{"meta/epoch": np.array(1), "generator/0000": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="pickled object array"):
        load_checkpoint(checkpoint, {})
