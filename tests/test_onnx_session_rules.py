"""The onnxruntime settings an export's rules write into an ONNX file, and the runtime reading them first.

``export/graph_rules.SESSION_RULES`` decide from the written graph (one rule: every Conv with one output
channel -> the NchwcTransformer off); the file carries the decision; ``runtime/onnx_metadata`` reads it
from the file's bytes before onnxruntime opens it, and ``OnnxBackend`` applies it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gantool.errors import ModelFileError
from gantool.export import canonical
from gantool.export.graph_rules import session_settings
from gantool.export.keras_to_onnx import set_session_settings
from gantool.runtime.backends.onnx_backend import OnnxBackend, file_settings
from gantool.runtime.contract import SESSION_METADATA_KEY
from gantool.runtime.onnx_metadata import read_metadata
from tests.conftest import TINY_ONNX

ROOT = Path(__file__).resolve().parents[1]


def conv_graph(out_channels: tuple[int, ...]):
    """z (batch, 8) -> Reshape to (batch, 2, 2, 2) -> one 3x3 'same' Conv per entry of ``out_channels``, chained."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array([-1, 2, 2, 2], dtype=np.int64), "shape")]
    nodes = [helper.make_node("Reshape", ["z", "shape"], ["x0"])]
    channels = 2
    for i, out in enumerate(out_channels):
        weight = rng.standard_normal((out, channels, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w{i}"))
        output = "image" if i == len(out_channels) - 1 else f"x{i + 1}"
        nodes.append(helper.make_node("Conv", [f"x{i}", f"w{i}"], [output], pads=[1, 1, 1, 1]))
        channels = out
    last = "image" if out_channels else "x0"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info(last, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("channels", "rule"), [((4, 1), None), ((1,), "one-channel-convs"),
                                                ((1, 1), "one-channel-convs"), ((), None), ((2, 3), None)])
def test_the_nchwc_rule_fires_only_when_every_conv_has_one_output_channel(channels, rule):
    settings = session_settings(conv_graph(channels))
    assert settings.get("rule") == rule
    if rule:
        assert settings["disabled_optimizers"] == ["NchwcTransformer"] and "one output channel" in settings["reason"]


def test_the_file_carries_the_rule_and_the_runtime_applies_it_before_opening(tmp_path):
    proto = conv_graph((1,))
    set_session_settings(proto)
    path = tmp_path / "one.onnx"
    canonical.save(proto, path)
    assert json.loads(read_metadata(path)[SESSION_METADATA_KEY])["rule"] == "one-channel-convs"
    assert file_settings(path) == {"disabled_optimizers": ["NchwcTransformer"]}
    # A graph the rule no longer fits loses a stale entry (the int8 export copies the float graph's metadata).
    wide = conv_graph((4,))
    canonical.set_metadata(wide, {p.key: p.value for p in proto.metadata_props})
    set_session_settings(wide)
    assert SESSION_METADATA_KEY not in {p.key for p in wide.metadata_props}


def test_the_backend_applies_the_files_settings_and_can_be_told_not_to(tmp_path):
    from gantool.runtime.describe import session_rule

    path = tmp_path / "one.onnx"
    proto = conv_graph((1,))
    set_session_settings(proto)
    canonical.set_metadata(proto, {"gantool.contract": json.dumps({"latent_dim": 8, "output_shape": [1, 2, 2]})})
    canonical.save(proto, path)
    z = np.random.default_rng(1).standard_normal((3, 8), dtype=np.float32)
    applied, default = OnnxBackend(path), OnnxBackend(path, apply_file_settings=False)
    assert applied.settings == {"disabled_optimizers": ["NchwcTransformer"]} and default.settings == {}
    np.testing.assert_allclose(applied.session.run(None, {"z": z})[0], default.session.run(None, {"z": z})[0],
                               rtol=1e-6, atol=1e-6)
    assert session_rule(applied).startswith("NchwcTransformer off, applied (rule one-channel-convs:")
    assert ", not applied (" in session_rule(default)


@pytest.mark.parametrize("path", [TINY_ONNX, ROOT / "runtime" / "assets" / "default.onnx",
                                  ROOT / "runtime" / "assets" / "default_int8.onnx",
                                  ROOT / "runtime" / "assets" / "classifier.onnx"])
def test_the_metadata_reader_agrees_with_onnx_and_onnxruntime(path):
    import onnxruntime as ort

    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert read_metadata(path) == expected == {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_a_file_that_is_not_onnx_reads_as_no_metadata_and_is_refused_in_one_line(tmp_path):
    data = TINY_ONNX.read_bytes()
    cases = {"truncated.onnx": data[: len(data) // 2], "text.onnx": b"not a model at all\n", "empty.onnx": b"",
             "huge_length.onnx": bytes([0x72, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])}  # field 14, a 4 GB entry
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert read_metadata(path) == {}, name
        with pytest.raises(ModelFileError) as caught:
            OnnxBackend(path)
        assert "\n" not in str(caught.value)
    assert read_metadata(tmp_path / "missing.onnx") == {}
