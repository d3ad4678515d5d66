"""Helpers of the gantool web tests (tests/test_web_*.py): tools they need, tiny ONNX generators."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# npm ci (package.json, package-lock.json) installs onnxruntime-web here.
ORT_DIST = ROOT / "node_modules" / "onnxruntime-web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")


def required_here() -> bool:
    """True in CI (CI=true, or GANTOOL_WEB_REQUIRED=1 as .ci/run sets): a missing tool fails, never skips."""
    return os.environ.get("CI") == "true" or os.environ.get("GANTOOL_WEB_REQUIRED") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when a tool the test needs is missing here; fail where the tests are required."""
    if condition:
        return
    if required_here():
        pytest.fail(f"{reason} (CI must run the gantool web tests: see .ci/run)")
    pytest.skip(reason)


def need_node() -> str:
    node = shutil.which("node")
    need(node is not None, "node is not installed (apt-get install nodejs)")
    return node


def need_ort_dist() -> Path:
    need((ORT_DIST / "ort.wasm.min.mjs").is_file(), f"onnxruntime-web is not installed in {ORT_DIST.parent} (npm ci)")
    return ORT_DIST


def need_browser():
    """Playwright's sync API, with Debian's chromium (no downloaded browser)."""
    need(CHROMIUM.is_file(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install -e '.[dev]')")
    return sync_playwright


def tiny_generator(path: Path, kind: str) -> Path:
    """Write a tiny gantool ONNX model of ``kind`` (onnx needed: the train extra) and return its path.

    - ``conditional``: z (N, 4) and an int32 label (N,) -> tanh(z + 0.1 * label) as (N, 2, 2, 1), 10 classes.
    - ``digit_code``: z (N, 12) -> tanh(z) as (N, 3, 4, 1); its first 10 latent components name the digit,
      so the image shows the latent after the digit was named.
    - ``points``: z (N, 3) -> (N, 2) points.
    """
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from gantool.runtime.contract import METADATA_KEY, ModelContract

    nodes, inputs, initializers = [], [], []
    if kind == "conditional":
        latent, shape, contract = 4, [2, 2, 1], {"num_classes": 10, "arch": "cdcgan"}
        inputs.append(helper.make_tensor_value_info("label", TensorProto.INT32, ["batch"]))
        initializers += [helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
                         helper.make_tensor("tenth", TensorProto.FLOAT, [], [0.1])]
        nodes += [helper.make_node("Cast", ["label"], ["label_float"], to=TensorProto.FLOAT),
                  helper.make_node("Unsqueeze", ["label_float", "axes"], ["label_column"]),
                  helper.make_node("Mul", ["label_column", "tenth"], ["shift"]),
                  helper.make_node("Add", ["z", "shift"], ["mixed"]),
                  helper.make_node("Tanh", ["mixed"], ["flat"])]
    elif kind == "digit_code":
        latent, shape, contract = 12, [3, 4, 1], {"digit_code": 10}
        nodes.append(helper.make_node("Tanh", ["z"], ["flat"]))
    elif kind == "points":
        latent, shape, contract = 3, [2], {"output_kind": "points", "dataset": "quadratic", "arch": "quadratic"}
        initializers.append(helper.make_tensor("weights", TensorProto.FLOAT, [3, 2], [1, 0, 0, 1, 0.5, 0.5]))
        nodes.append(helper.make_node("MatMul", ["z", "weights"], ["image"]))
    else:
        raise ValueError(kind)
    if kind != "points":
        initializers.append(helper.make_tensor("shape", TensorProto.INT64, [4], [-1, *shape]))
        nodes.append(helper.make_node("Reshape", ["flat", "shape"], ["image"]))
    inputs.insert(0, helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent]))
    output = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", *shape])
    graph = helper.make_graph(nodes, kind, inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gantool tests")
    model.ir_version = 8
    meta = ModelContract(latent_dim=latent, output_shape=tuple(shape), **contract)
    helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.save(model, str(path))
    return path
