"""gantool web's words for the model: "digits" only for a digit model, class names in the picker. contract.js's
rules (classesAreDigits, isDigitModel, classWord, labelIndex) run in Node against the Python contract's
(classes_are_digits, is_digit_model, class_word, runtime.sampling.resolve_label); the site of a colour model
with named classes is written without TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from gantool.errors import GantoolError
from gantool.runtime.contract import ModelContract
from gantool.runtime.sampling import resolve_label
from gantool.web.site import build_site, static_folder

from .image_folders import COLOUR_CLASSES, colour_generator
from .web_support import need

CONTRACTS = {
    "bundled digits": {"latent_dim": 100, "output_shape": [28, 28, 1], "digit_code": 10},
    "unlabeled colour 64": {"latent_dim": 100, "output_shape": [64, 64, 3], "dataset": "images"},
    "named colour 32": {"latent_dim": 8, "output_shape": [32, 32, 3], "digit_code": 3, "class_names": list(COLOUR_CLASSES),
                        "dataset": "images"},
    "fashion 28": {"latent_dim": 16, "output_shape": [28, 28, 1], "num_classes": 2, "class_names": ["boot", "shirt"],
                   "dataset": "images"},
    "digit folder": {"latent_dim": 16, "output_shape": [28, 28, 1], "num_classes": 3, "class_names": ["0", "1", "2"],
                     "dataset": "images"},
    "unlabeled grey 28": {"latent_dim": 16, "output_shape": [28, 28, 1], "dataset": "images"},
}
LABELS = ["0", "2", "shirt", "b_green", "cat"]

NODE_CHECK = """
const [contractUrl, casesJson] = process.argv.slice(2);
const { ModelContract } = await import(contractUrl);
const out = {};
for (const [name, data] of Object.entries(JSON.parse(casesJson).contracts)) {
  const c = new ModelContract(data);
  const labels = {};
  for (const label of JSON.parse(casesJson).labels) {
    try { labels[label] = c.labelIndex(label); } catch (error) { labels[label] = `error: ${error.message}`; }
  }
  out[name] = { classesAreDigits: c.classesAreDigits, isDigitModel: c.isDigitModel,
                words: Array.from({ length: c.digitCount }, (_, i) => c.classWord(i)), labels };
}
console.log(JSON.stringify(out));
"""


def python_view(data: dict) -> dict:
    contract = ModelContract.from_dict(data)
    labels = {}
    for label in LABELS:
        try:
            labels[label] = resolve_label(contract, label)
        except GantoolError as error:
            labels[label] = f"error: {error}"
    classes = contract.num_classes or contract.digit_code or 10
    return {"classesAreDigits": contract.classes_are_digits, "isDigitModel": contract.is_digit_model,
            "words": [contract.class_word(i) for i in range(classes)], "labels": labels}


def test_python_rules_for_words():
    views = {name: python_view(data) for name, data in CONTRACTS.items()}
    assert [name for name, view in views.items() if view["isDigitModel"]] == ["bundled digits", "digit folder"]
    assert views["named colour 32"]["words"] == list(COLOUR_CLASSES) and views["named colour 32"]["labels"]["b_green"] == 1
    assert "its classes: boot, shirt" in views["fashion 28"]["labels"]["cat"]


def test_contract_js_agrees_with_python(tmp_path):
    node = shutil.which("node")
    need(node is not None, "node is not installed (apt-get install nodejs)")
    script = tmp_path / "check.mjs"
    script.write_text(NODE_CHECK)
    cases = json.dumps({"contracts": CONTRACTS, "labels": LABELS})
    result = subprocess.run([node, str(script), (static_folder() / "contract.js").as_uri(), cases],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    js = json.loads(result.stdout)
    for name, data in CONTRACTS.items():
        python = python_view(data)
        for label, value in python["labels"].items():
            if isinstance(value, str):  # the same refusal: Python's backticks, JavaScript's quotes
                assert js[name]["labels"][label].startswith("error: ") and value.split(";")[-1] in js[name]["labels"][label]
                js[name]["labels"][label] = value
        assert js[name] == python, name


def test_the_page_s_words_come_from_the_model():
    page = (static_folder() / "index.html").read_text()
    assert "digits drawn" not in page and 'id="digit-word"' in page
    app = (static_folder() / "app.js").read_text()
    assert 'contract.isDigitModel ? "digits" : "images"' in app and "drawn in your browser" in app


def test_web_writes_a_site_for_a_colour_model_with_named_classes(tmp_path):
    pytest.importorskip("onnx")
    model = colour_generator(tmp_path / "colours.onnx", size=64)
    site = build_site(model, tmp_path / "site")
    assert (site.path / "model.onnx").read_bytes() == model.read_bytes()
    assert ModelContract.from_json(json.dumps(CONTRACTS["named colour 32"])).class_names == COLOUR_CLASSES
