"""gantool bench: the table, the JSON, the --floor exit code and one-line errors, on the tiny model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gantool.bench.benchmark import EXIT_BELOW_FLOOR, BenchOptions, BenchResult, BenchRow, fastest_line, parse_formats
from gantool.cli import app
from gantool.export.registry import REGISTRY, entries_for, lookup

from .conftest import TINY_ONNX, run_gantool_without_tensorflow

runner = CliRunner()
# Few timed calls and a small quality sample keep each run around a second.
FAST = ["--repeats", "5", "--count", "40"]
COLUMNS = ("format", "advice", "status", "size MB", "load ms", "b1 p50 ms", "b1 p95 ms", "b64 img/s",
           "peak RSS MB", "max |Δ|", "FID", "MNIST score")


def invoke(*args):
    return runner.invoke(app, ["bench", *[str(a) for a in args]])


@pytest.fixture
def export_folder(tmp_path):
    """A folder laid out like `gantool export --format all` output: the tiny model under two registry names."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for key in ("onnx/none", "onnx/int8"):
        shutil.copy(TINY_ONNX, folder / lookup(*key.split("/")).file_name)
    return folder


def test_bench_file_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = invoke("--model", TINY_ONNX, "--threads", 1, "--json", out, *FAST)
    assert result.exit_code == 0, result.output
    assert "threads 1" in result.output
    header = next(line for line in result.output.splitlines() if line.startswith("format"))
    for column in COLUMNS:
        assert column in header
    report = json.loads(out.read_text())
    assert report["threads"] == 1 and report["batches"] == [1, 64] and report["below_floor"] == []
    (row,) = report["formats"]
    assert row["key"] == "onnx/none" and row["status"] == "ok" and row["engine"] == "onnxruntime"
    assert row["size_bytes"] == TINY_ONNX.stat().st_size
    assert row["load_ms"] > 0 and row["peak_rss_mb"] > row["base_rss_mb"] > 0
    for batch in ("1", "64"):
        timing = row["timings"][batch]
        assert timing["calls"] == 5 and 0 < timing["p50_ms"] <= timing["p95_ms"] and timing["img_s"] > 0
    assert row["quality"]["count"] == 40 and row["quality"]["fid"] > 0 and 1 <= row["quality"]["mnist_score"] <= 10


def test_bench_folder_measures_each_entry_with_parity(export_folder, tmp_path):
    out = tmp_path / "bench.json"
    result = invoke("--model", export_folder, "--no-quality", "--repeats", 3, "--batch", "2,16,8", "--no-spin",
                    "--json", out)
    assert result.exit_code == 0, result.output
    for column in ("b2 p50 ms", "b8 img/s", "b16 img/s"):
        assert column in result.output
    report = json.loads(out.read_text())
    assert report["spin_wait"] is False and "without spin-waiting" in result.output
    assert [row["key"] for row in report["formats"]] == ["onnx/none", "onnx/int8"]
    assert all(row["quality"] is None for row in report["formats"])
    # Both files are the same model, so each matches the fp32 reference exactly.
    assert [row["parity"]["max_abs"] for row in report["formats"]] == [0.0, 0.0]
    assert report["formats"][0]["parity"]["reference"] == "onnx/none"
    # The last line names the fastest of the two at the largest batch, 16; the JSON says the same.
    fastest = report["fastest"]
    assert fastest["batch"] == 16 and fastest["key"] in ("onnx/none", "onnx/int8")
    assert result.stdout.strip().splitlines()[-1] == f"Fastest here at batch 16: {fastest['key']} ({fastest['img_s']:.0f} img/s)"


def test_bench_floor_exits_3(export_folder):
    result = invoke("--model", export_folder, "--formats", "onnx/int8", "--floor", "1e12", "--no-quality",
                    "--repeats", 2)
    assert result.exit_code == EXIT_BELOW_FLOOR
    assert "onnx/int8" in result.output and "below --floor" in result.output
    assert [line.split()[0] for line in result.output.splitlines() if line.startswith("onnx/")] == ["onnx/int8"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "missing.onnx"], "does not exist"),
        (["--model", TINY_ONNX, "--batch", "0"], "--batch must be positive"),
        (["--model", TINY_ONNX, "--batch", "one"], "--batch must be comma-separated"),
        (["--model", TINY_ONNX, "--formats", "onnx/fp16"], "not a registry pair"),
        (["--model", TINY_ONNX, "--formats", "coreml"], "not a registry pair"),
        (["--model", TINY_ONNX, "--formats", "onnx"], "--formats picks files in a folder"),
        (["--model", TINY_ONNX, "--count", "5"], "--count must be at least 20"),
        (["--model", TINY_ONNX, "--threads", "0"], "--threads must be a positive"),
        (["--model", TINY_ONNX, "--floor", "-1"], "--floor must be a positive"),
    ],
)
def test_bench_bad_input_is_one_line_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bench_folder_errors(export_folder, tmp_path):
    result = invoke("--model", tmp_path / "empty_dir_missing")
    assert result.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("--model", empty)
    assert result.exit_code == 2 and "no exported generator" in result.output
    result = invoke("--model", export_folder, "--formats", "tflite/int8")
    assert result.exit_code == 2 and "has no tflite/int8 export" in result.output


def test_bench_unloadable_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    result = invoke("--model", bad, "--no-quality")
    assert result.exit_code == 2 and "not a loadable ONNX model" in result.output and "Traceback" not in result.output


def _row(key: str, img_s: float | None, max_abs: float | None, mean_abs: float = 0.0) -> BenchRow:
    timings = {"64": {"img_s": img_s}} if img_s is not None else {}
    parity = None if max_abs is None else {"reference": "keras", "max_abs": max_abs, "mean_abs": mean_abs}
    return BenchRow(key, Path(key), "-", 0, measured={"timings": timings}, parity=parity,
                    error="" if img_s is not None else "worker crashed")


def test_fastest_is_the_quickest_format_inside_its_bound():
    """A faster format that breached its registry bound, or failed, is passed over."""
    def line(*rows):
        return fastest_line(BenchResult(Path("exports"), BenchOptions(batches=(1, 64)), list(rows), "vs Keras", ()))

    fp32, tflite = _row("onnx/none", 900, 3e-6), _row("tflite/none", 1100, 4e-5)
    assert line(fp32, tflite) == "Fastest here at batch 64: tflite/none (1100 img/s)"
    assert line(fp32, tflite, _row("tflite/int8", 5000, 0.9), _row("tflite/fp16", 4000, 1e-3, mean_abs=5e-4),
                _row("onnx/int8", None, None)) == "Fastest here at batch 64: tflite/none (1100 img/s)"
    assert line(_row("onnx/none", 900, None)) == "Fastest here at batch 64: onnx/none (900 img/s, parity not measured)"
    assert line(_row("onnx/none", 900, 1e-3)) == "No format ran within its bounds here at batch 64."


def test_bench_bundled_in_a_base_install_names_the_fastest_format(tmp_path):
    """`gantool bench --model bundled --no-quality` with TensorFlow, Keras and tf2onnx unimportable."""
    result = run_gantool_without_tensorflow(tmp_path, "bench", "--model", "bundled", "--no-quality", "--repeats", "3")
    assert result.returncode == 0, result.stderr
    assert "default.onnx" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"Fastest here at batch 64: onnx/none \(\d+ img/s, parity not measured\)", last), last


def test_parse_formats_reads_the_registry():
    assert parse_formats("all") == REGISTRY
    assert parse_formats("tflite") == entries_for("tflite")
    assert [e.key for e in parse_formats("tflite/int8, onnx/none,onnx")] == ["onnx/none", "onnx/int8", "tflite/int8"]


def test_bench_never_imports_tensorflow(tmp_path):
    """Parent and worker processes both run with TensorFlow, Keras and tf2onnx made unimportable."""
    result = run_gantool_without_tensorflow(tmp_path, "bench", "--model", TINY_ONNX, *FAST)
    assert result.returncode == 0, result.stderr
    assert "onnx/none" in result.stdout


@pytest.mark.slow
def test_bench_run_folder_exports_first(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    result = invoke("--model", run, "--formats", "onnx/none", "--no-quality", "--repeats", 2)
    assert result.exit_code == 0, result.output
    assert (run / "exports" / "generator_fp32.onnx").is_file() and (run / "exports" / "report.json").is_file()
    assert "vs Keras" in result.output
