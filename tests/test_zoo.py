"""Generators a user brings: the zoo of public GAN shapes (export/zoo.py) through export, sample, info and eval.

Each zoo model is built at :data:`zoo.TEST_WIDTH` (its shape, tiny widths). For each: every format
exports within its bound or is reported as failing it (never a crash); the default ONNX graph is
the one its measured choice picked, at most 1.25x the plain graph's size and no slower than it;
the value range is read from the model; ``sample`` writes an image of the right size and colour.
The full-size figures (sizes, speed, peak memory) come from ``benchmarks/zoo.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gantool.export.zoo import BAD, TEST_WIDTH, VALUE_RANGES, ZOO, save

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return {name: save(build(width=TEST_WIDTH, seed=1), folder, name) for name, build in ZOO.items()}


def invoke(*args):
    from gantool.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", list(ZOO))
def test_every_format_exports_or_reports_its_bound_and_the_default_graph_is_within_the_guard(name, zoo_files, tmp_path):
    from gantool.export.all_formats import ExportStatus, export_folder
    from gantool.export.graph_rules import MAX_WEIGHT_GROWTH, RULES

    outcomes, report = export_folder(zoo_files[name], tmp_path / "out", eval_count=0)
    assert len(outcomes) == 6
    for outcome in outcomes:
        assert outcome.status in (ExportStatus.passed, ExportStatus.failed_validation), (outcome.entry.key,
                                                                                           outcome.message)
        if outcome.status is ExportStatus.failed_validation:  # reported with its figures, no file left
            assert outcome.parity is not None and "bound" in outcome.message and not outcome.path.exists()
    fp32 = next(o for o in outcomes if o.entry.key == "onnx/none")
    assert fp32.status is ExportStatus.passed  # float32 ONNX always holds its bound
    saved = json.loads(report.read_text())
    assert tuple(saved["contract"]["value_range"]) == VALUE_RANGES[name]
    choice = next(r for r in saved["exports"] if r["file"] == fp32.path.name)["graph_choice"]
    candidates = {c["kind"]: c for c in choice["candidates"]}
    chosen, plain = candidates[choice["chosen"]], candidates["plain"]
    assert choice["how"] == "rule" and choice["rule"] in {r.name for r in RULES}
    assert chosen["weight_bytes"] <= MAX_WEIGHT_GROWTH * plain["weight_bytes"]
    assert fp32.size_bytes <= MAX_WEIGHT_GROWTH * plain["weight_bytes"] + 64 * 1024  # + graph and metadata
    for candidate in candidates.values():
        assert candidate["status"] in ("chosen", "not built", "skipped"), candidate
    # The session rule fires where the written float graph keeps a one-channel Conv: a plain graph (at these
    # tiny widths the rewrites of the 28x28 models exceed the guard's work bound); int8 has no float Conv.
    sessions = {r["file"]: (r["onnxruntime"] or {}).get("rule") for r in saved["exports"] if r["file"].endswith(".onnx")}
    expected = PLAIN_SESSION_RULES.get(name) if choice["chosen"] == "plain" else None
    assert sessions.pop(fp32.path.name) == expected and not any(sessions.values()), (choice["chosen"], sessions)


@pytest.mark.parametrize("name", ["dcgan64", "mnist_sigmoid28", "conditional28"])
def test_sample_and_info_on_a_zoo_export(name, zoo_files, tmp_path):
    onnx_path = tmp_path / f"{name}.onnx"
    result = invoke("export", "--model", zoo_files[name], "--out", onnx_path, "--format", "onnx")
    assert result.exit_code == 0, result.output
    low, high = VALUE_RANGES[name]
    assert f"in [{low:g}, {high:g}]" in result.output and "Graph: " in result.output
    model = __import__("keras").saving.load_model(zoo_files[name], compile=False)
    height, width, channels = model.outputs[0].shape[1:]
    for count in (1, 4, 7):
        grid = tmp_path / f"grid{count}.png"
        extra = ["--label", "3"] if name == "conditional28" else []
        result = invoke("sample", "--model", onnx_path, "--out", grid, "--count", count, *extra)
        assert result.exit_code == 0, result.output
        assert ("digits" if (height, channels) == (28, 1) else "images") in result.output
        image = Image.open(grid)
        cols = int(np.ceil(np.sqrt(count)))
        rows = int(np.ceil(count / cols))
        assert image.size == (cols * (width + 2) + 2, rows * (height + 2) + 2)
        assert image.mode == ("RGB" if channels == 3 else "L")
    info = invoke("info", "--model", onnx_path)
    assert info.exit_code == 0 and "(rule " in info.output and "plain" in info.output
    if (height, channels) != (28, 1):
        result = invoke("eval", "--model", onnx_path, "--count", "100")
        assert result.exit_code == 2 and result.output.count("\n") == 1 and "28" in result.output
        result = invoke("sample", "--model", onnx_path, "--out", tmp_path / "d.png", "--digit", "3")
        assert result.exit_code == 2 and "cannot sort" in result.output and not (tmp_path / "d.png").exists()


@pytest.mark.parametrize("name", list(BAD))
def test_a_model_that_is_no_generator_is_refused_in_one_line(name, tmp_path):
    path = save(BAD[name](width=TEST_WIDTH), tmp_path, name)
    out = tmp_path / "g.onnx"
    result = invoke("export", "--model", path, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    expected = "--value-range" if name == "linear_output" else "expected a generator"
    assert expected in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing written


def test_linear_output_exports_with_a_value_range_and_a_wrong_range_is_refused(zoo_files, tmp_path):
    path = save(BAD["linear_output"](width=TEST_WIDTH), tmp_path, "linear")
    result = invoke("export", "--model", path, "--out", tmp_path / "g.onnx", "--value-range", "-1,1")
    assert result.exit_code == 0, result.output
    result = invoke("export", "--model", zoo_files["mnist_sigmoid28"], "--out", tmp_path / "h.onnx",
                    "--value-range", "-1,1")
    assert result.exit_code == 2 and "sigmoid" in result.output and not (tmp_path / "h.onnx").exists()


def test_the_guard_skips_a_rewrite_that_would_grow_the_weights(zoo_files):
    """The DCGAN paper's four stacked stride-2 layers compose into a Conv 10x the plain weights: estimated, not built."""
    from gantool.export.graph_rules import estimate, within_guard
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.source import load_source

    model, contract, _ = load_source(zoo_files["dcgan64"])
    plain_proto = to_onnx_proto(model, contract)
    plain, chained, layerwise = (estimate(plain_proto, k) for k in ("plain", "optimized", "layerwise"))
    assert chained.weight_bytes > 5 * plain.weight_bytes and within_guard(plain, chained).startswith("weights")
    assert layerwise.weight_bytes <= 1.05 * plain.weight_bytes and not within_guard(plain, layerwise).startswith("weights")


def test_a_forced_graph_beyond_the_guard_is_written_and_says_its_size(zoo_files, tmp_path):
    out = tmp_path / "chained.onnx"
    result = invoke("export", "--model", zoo_files["dcgan64"], "--out", out, "--graph", "optimized")
    assert result.exit_code == 0, result.output
    assert out.is_file() and "optimized (forced: forced beyond the size guard: weights" in result.output


LAYERWISE = ("layerwise", "layerwise-within-guard")
CALIBRATED_CHOICES = {  # docs/export_graphs.md's calibration table (benchmarks/graph_rules.py, 2026-12-05)
    "dcgan64": LAYERWISE, "celeba64": LAYERWISE, "cifar32": LAYERWISE, "mnist_sigmoid28": LAYERWISE,
    "mnist_sigmoid28_onehot": LAYERWISE, "wgan_gp28": LAYERWISE, "conditional28": LAYERWISE,
    "mlp28": ("plain", "no-upsampling-conv"),
}


# The zoo models whose plain graph gets a session rule (the calibration's "Nchwc off" columns); the others get none.
PLAIN_SESSION_RULES = {name: "one-channel-convs" for name in ("mnist_sigmoid28", "mnist_sigmoid28_onehot",
                                                              "conditional28")}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CALIBRATED_CHOICES))
def test_the_rules_pick_the_calibrated_graph_at_full_size(name, tmp_path):
    """At the public widths the rules name the graph the calibration measured best (estimates only: nothing built)."""
    from gantool.export.graph_rules import choose_by_rule, graph_facts, session_settings
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.source import load_source

    model, contract, _ = load_source(save(ZOO[name](width=1.0, seed=0), tmp_path, name))
    plain = to_onnx_proto(model, contract)
    kind, rule, reason = choose_by_rule(graph_facts(plain))
    assert (kind, rule) == CALIBRATED_CHOICES[name], reason
    assert session_settings(plain).get("rule") == PLAIN_SESSION_RULES.get(name)
