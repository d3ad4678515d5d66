"""ONNX export: graph shape and names, metadata, parity with Keras, typed failures, no partial files."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.errors import ContractError, ExportValidationError, ModelFileError
from gantool.runtime import Generator, ModelContract, latents

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_onnx_matches_keras(tiny_keras, tiny_onnx, batch):
    model, contract = tiny_keras
    z = latents(batch, contract.latent_dim, seed=100 + batch)
    expected = np.asarray(model(z, training=False))
    got = Generator.load(tiny_onnx).generate(z)
    assert got.shape == (batch, 28, 28, 1)
    assert np.abs(expected - got).max() <= 1e-5


def test_graph_names_batch_axis_and_contract(tiny_onnx, tiny_keras):
    import onnx

    proto = onnx.load(tiny_onnx)
    assert [i.name for i in proto.graph.input] == ["z"]
    assert [o.name for o in proto.graph.output] == ["image"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) <= 18
    for node in proto.graph.node:
        if node.op_type == "ConvTranspose":
            assert any(a.name == "pads" for a in node.attribute)
    props = {p.key: p.value for p in proto.metadata_props}
    contract = ModelContract.from_json(props["gantool.contract"])
    assert contract == tiny_keras[1]
    assert contract.training["seed"] == 7


def test_parity_breach_fails_and_leaves_no_file(tiny_keras, tmp_path, monkeypatch):
    from gantool.export import keras_to_onnx

    model, contract = tiny_keras
    monkeypatch.setattr(keras_to_onnx, "onnx_runner", lambda path: lambda z: np.asarray(model(z)) + 1e-3)
    out = tmp_path / "g.onnx"
    with pytest.raises(ExportValidationError, match="max"):
        keras_to_onnx.export_onnx(model, contract, out)
    assert list(tmp_path.iterdir()) == []


def test_foreign_keras_model_gets_contract_from_shapes(tmp_path):
    import keras

    from gantool.export.keras_to_onnx import export_onnx
    from gantool.export.source import load_source

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(28 * 28, activation="sigmoid"),
                              keras.layers.Reshape((28, 28, 1))])
    path = tmp_path / "tutorial_generator.keras"
    model.save(path)
    loaded, contract, _ = load_source(path, value_range=(0.0, 1.0))
    assert (contract.latent_dim, contract.image_shape, contract.value_range) == (16, (28, 28, 1), (0.0, 1.0))
    export_onnx(loaded, contract, tmp_path / "g.onnx")
    assert Generator.load(tmp_path / "g.onnx").sample(3, seed=1).shape == (3, 28, 28, 1)


def test_non_generator_keras_model_is_refused(tmp_path):
    import keras

    from gantool.export.source import load_source

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    path = tmp_path / "classifier.keras"
    model.save(path)
    with pytest.raises(ContractError, match="latent_dim"):
        load_source(path)


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04truncated"])
def test_broken_keras_files(tmp_path, content):
    from gantool.export.source import load_source

    path = tmp_path / "g.keras"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_source(path)


def test_graph_flag_forces_a_graph_or_names_the_rule(tiny_run, tmp_path):
    import json

    import onnx
    from typer.testing import CliRunner

    from gantool.cli import app
    from gantool.export.graph_rules import RULES

    # A forced graph is that graph; auto (the default) builds the one graph a rule names, and says which rule.
    for flags, allowed in ((["--graph", "plain"], {"plain"}), (["--graph", "optimized+fourier"], {"optimized+fourier"}),
                           (["--graph", "layerwise"], {"layerwise"}), ([], {"optimized+fourier"})):
        out = tmp_path / f"{len(flags)}_{'_'.join(flags)}.onnx"
        result = CliRunner().invoke(app, ["export", "--model", str(tiny_run), "--out", str(out), *flags])
        assert result.exit_code == 0, result.output
        proto = onnx.load(out)
        metadata = {p.key: p.value for p in proto.metadata_props}
        kind = metadata["gantool.graph"]
        assert kind in allowed, (flags, kind)
        upsampling = [n for n in proto.graph.node if n.op_type == "ConvTranspose"
                      and any(s > 1 for a in n.attribute if a.name == "strides" for s in a.ints)]
        assert bool(upsampling) == (kind == "plain")  # the rewrites keep only stride-1 (narrow) ConvTransposes
        choice = json.loads(metadata["gantool.graph_choice"])
        assert choice["chosen"] == kind and f"{kind} graph" in result.output
        statuses = {c["kind"]: c["status"] for c in choice["candidates"]}
        assert statuses[kind] == "chosen" and list(statuses.values()).count("chosen") == 1
        assert not any("ms" in c or "max_abs" in c for c in choice["candidates"])  # no measurement in the file
        if flags:
            assert choice["how"] == "forced"
        else:
            assert choice["how"] == "rule" and choice["rule"] in {r.name for r in RULES} and choice["reason"]
            assert f"rule {choice['rule']}" in result.output
    assert not list(tmp_path.glob(".gantool-graphs-*"))  # no scratch left behind


@pytest.mark.slow
def test_keep_graphs_and_fastest_here(tiny_run, tmp_path):
    """--keep-graphs writes every other candidate within the guard; --graph fastest-here times them here and says
    where (CPU, onnxruntime, threads) in the summary, never in the file."""
    import json

    import onnx
    from typer.testing import CliRunner

    from gantool.cli import app

    out = tmp_path / "g.onnx"
    result = CliRunner().invoke(app, ["export", "--model", str(tiny_run), "--out", str(out), "--keep-graphs"])
    assert result.exit_code == 0, result.output
    kept = sorted(p.name for p in tmp_path.glob("g.*.onnx"))
    assert kept == ["g.layerwise-fourier.onnx", "g.layerwise.onnx", "g.optimized.onnx", "g.plain.onnx"], kept
    timed = tmp_path / "t.onnx"
    result = CliRunner().invoke(app, ["export", "--model", str(tiny_run), "--out", str(timed), "--graph", "fastest-here"])
    assert result.exit_code == 0, result.output
    assert "timed here:" in result.output and "onnxruntime" in result.output and "batch 64:" in result.output
    choice = json.loads({p.key: p.value for p in onnx.load(timed).metadata_props}["gantool.graph_choice"])
    assert choice["how"] == "fastest-here" and "timing" not in choice
    assert not any("ms" in c for c in choice["candidates"])


def test_fastest_here_keeps_the_rule_inside_the_noise(monkeypatch):
    from gantool.export import graph_choice
    from gantool.export.graph_choice import Candidate, fastest_here

    def timing(times):
        """A stand-in for time_candidates: kind -> (batch-1 ms, batch-64 ms, spread of the rounds)."""
        def fake(candidates):
            for c in candidates:
                b1, b64, spread = times[c.kind]
                c.ms, c.spread = {1: b1, 64: b64}, {1: spread, 64: spread}
            return 3
        return fake

    alive = [Candidate("optimized+fourier"), Candidate("plain")]
    monkeypatch.setattr(graph_choice, "time_candidates",
                        timing({"optimized+fourier": (1.0, 10.0, 0.30), "plain": (0.9, 8.0, 0.30)}))
    kind, reason, record = fastest_here(alive, "optimized+fourier", "rule says so", lambda _line: None)
    assert kind == "optimized+fourier" and "noisy" in reason and record["noise"] == 1.3
    monkeypatch.setattr(graph_choice, "time_candidates",
                        timing({"optimized+fourier": (2.0, 20.0, 0.01), "plain": (1.0, 10.0, 0.01)}))
    kind, reason, record = fastest_here(alive, "optimized+fourier", "rule says so", lambda _line: None)
    assert kind == "plain" and "2.00x faster here" in reason and record["cpu"] and record["threads"]
