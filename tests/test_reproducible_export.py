"""Same model, same file: every export format is a function of the Keras model and the tool versions.

Two ``gantool export --format all`` of one small generator, each in its own process with its own
``PYTHONHASHSEED``, write byte-identical files in every format and quantization and the same
``report.json``; within one process (where Keras and tf2onnx counters have moved on) a second
export is byte-identical too. ``export/canonical.py`` says what makes that so.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from gantool.export.zoo import TEST_WIDTH, ZOO, save

pytestmark = pytest.mark.slow


def _export_all(source, out, hash_seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-m", "gantool", "export", "--format", "all", "--eval-count", "0",
                           "--model", str(source), "--out", str(out)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(out.iterdir())}


def test_two_exports_in_two_processes_are_byte_identical(tiny_run, tmp_path):
    import shutil

    first = _export_all(tiny_run, tmp_path / "out", "1")
    shutil.rmtree(tmp_path / "out")  # the same --out: report.json names it in each sample command
    second = _export_all(tiny_run, tmp_path / "out", "2")
    assert {name.rsplit(".", 1)[-1] for name in first} >= {"onnx", "tflite", "json"}
    assert len(first) == 7  # six formats and report.json
    assert first == second


def test_a_second_export_in_the_same_process_is_byte_identical(tmp_path):
    """Keras names the second model's scopes ``..._1`` and tf2onnx's counters move on; the files do not."""
    from gantool.export.keras_to_onnx import export_onnx
    from gantool.export.source import load_source

    path = save(ZOO["cifar32"](width=TEST_WIDTH, seed=0), tmp_path, "cifar32")
    digests = []
    for index in range(2):
        model, contract, _ = load_source(path)
        out = tmp_path / f"g{index}.onnx"
        export_onnx(model, contract, out)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_the_file_names_its_rule_and_holds_no_measurement(tiny_onnx):
    import onnx

    proto = onnx.load(tiny_onnx)
    choice = json.loads({p.key: p.value for p in proto.metadata_props}["gantool.graph_choice"])
    assert choice["how"] == "rule" and choice["rule"] and choice["reason"]
    assert all(set(c) & {"ms", "spread", "max_abs"} == set() for c in choice["candidates"])
    names = [n.name for n in proto.graph.node] + [t.name for t in proto.graph.initializer]
    assert not [name for name in names if "__" in name or "generator" in name]  # no converter counter, no Keras scope
