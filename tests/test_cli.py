"""The command line: help, the train -> export -> sample round trip, one-line errors and exit codes."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from gantool.cli import app

from .conftest import TINY_ONNX

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_help_lists_commands_with_examples():
    result = invoke("--help")
    assert result.exit_code == 0
    for word in ("train", "export", "sample", "Examples"):
        assert word in result.output
    for command in ("train", "export", "sample"):
        sub = invoke(command, "--help")
        assert sub.exit_code == 0 and "Example" in sub.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "0"], "--count must be a positive"),
        (["--count", "-5"], "--count must be a positive"),
        (["--count", "4", "--cols", "8"], "--cols"),
        (["--model", "missing.onnx"], "does not exist"),
    ],
)
def test_sample_bad_input_is_one_line_exit_2(tmp_path, args, message):
    out = tmp_path / "grid.png"
    model_args = [] if "--model" in args else ["--model", TINY_ONNX]
    result = invoke("sample", "--out", out, *model_args, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_sample_unwritable_or_missing_folder(tmp_path):
    result = invoke("sample", "--model", TINY_ONNX, "--out", tmp_path / "no" / "such" / "grid.png")
    assert result.exit_code == 2 and "does not exist" in result.output
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = invoke("sample", "--model", TINY_ONNX, "--out", locked / "grid.png")
        assert result.exit_code == 2 and "not writable" in result.output
    finally:
        os.chmod(locked, 0o700)


def test_sample_does_not_overwrite_on_failure(tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"previous")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    result = invoke("sample", "--model", bad, "--out", out)
    assert result.exit_code == 2
    assert out.read_bytes() == b"previous"


def test_sample_writes_png_and_npy_deterministically(tmp_path):
    import numpy as np
    from PIL import Image

    first, second = tmp_path / "a.png", tmp_path / "b.png"
    result = invoke("sample", "--model", TINY_ONNX, "--out", first, "--count", 10, "--cols", 5, "--seed", 3,
                    "--npy", tmp_path / "a.npy")
    assert result.exit_code == 0, result.output
    invoke("sample", "--model", TINY_ONNX, "--out", second, "--count", 10, "--cols", 5, "--seed", 3)
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as image:
        assert image.size == (5 * 30 + 2, 2 * 30 + 2)
    images = np.load(tmp_path / "a.npy", allow_pickle=False)
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.uint8


@pytest.mark.slow
def test_train_export_sample_round_trip(tmp_path, fixture_npz):
    from PIL import Image

    run = tmp_path / "run"
    result = invoke("train", "--data", fixture_npz, "--epochs", 1, "--steps-per-epoch", 2, "--batch-size", 32,
                    "--out", run)
    assert result.exit_code == 0, result.output
    assert "CPU" in result.output or "GPU" in result.output
    onnx_path = tmp_path / "g.onnx"
    result = invoke("export", "--format", "onnx", "--model", run / "generator.keras", "--out", onnx_path)
    assert result.exit_code == 0, result.output
    assert "max |Δ|" in result.output and "gantool sample" in result.output
    result = invoke("sample", "--model", onnx_path, "--out", tmp_path / "grid.png", "--count", 64, "--seed", 3)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "grid.png") as image:
        assert image.size == (8 * 30 + 2, 8 * 30 + 2)


def test_train_bad_data_is_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    result = invoke("train", "--data", bad, "--epochs", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert "not a readable mnist.npz" in result.output and "Traceback" not in result.output
    result = invoke("train", "--data", tmp_path / "missing.npz", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "--data" in result.output


def test_train_bad_numbers(tmp_path, fixture_npz):
    result = invoke("train", "--data", fixture_npz, "--epochs", 0, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "--epochs" in result.output


def test_export_bad_model(tmp_path):
    result = invoke("export", "--format", "onnx", "--model", tmp_path / "none.keras", "--out", tmp_path / "g.onnx")
    assert result.exit_code == 2 and "does not exist" in result.output
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG")
    result = invoke("export", "--format", "onnx", "--model", png, "--out", tmp_path / "g.onnx")
    assert result.exit_code == 2 and "not a Keras model" in result.output
    assert not (tmp_path / "g.onnx").exists()


def test_export_says_its_model_is_the_keras_source(tmp_path):
    for model in ("bundled", TINY_ONNX):
        result = invoke("export", "--format", "onnx", "--model", model, "--out", tmp_path / "g.onnx")
        assert result.exit_code == 2 and "export reads the Keras source: a run folder or its generator.keras" in result.output


@pytest.mark.parametrize("args", [("info",), ("sample", "--count", "4", "--cols", "2", "--out", "{tmp}/g.png"),
                                  ("eval", "--count", "20")])
def test_every_model_command_takes_the_bundled_names(tmp_path, args):
    """sample, info and eval resolve --model like bench (tests/test_bench.py) through one resolver."""
    for name in ("bundled", "bundled-int8"):
        result = invoke(*[a.format(tmp=tmp_path) for a in args], "--model", name)
        assert result.exit_code == 0, result.output
    result = invoke(*[a.format(tmp=tmp_path) for a in args], "--model", "bundle")
    assert result.exit_code == 2 and "neither a model file nor a bundled model" in result.output


def test_sample_npy_only_and_limits(tmp_path):
    import numpy as np

    result = invoke("sample", "--model", TINY_ONNX, "--npy", tmp_path / "d.npy", "--count", 300)
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "d.npy").shape == (300, 28, 28, 1)
    result = invoke("sample", "--model", TINY_ONNX)
    assert result.exit_code == 2 and "nothing to write" in result.output
    result = invoke("sample", "--model", TINY_ONNX, "--out", tmp_path / "big.png", "--count", 20000)
    assert result.exit_code == 2 and "--npy" in result.output and not (tmp_path / "big.png").exists()
    result = invoke("sample", "--model", TINY_ONNX, "--npy", tmp_path / "huge.npy", "--count", 10**9)
    assert result.exit_code == 2 and "exceeds" in result.output and not (tmp_path / "huge.npy").exists()


def test_sample_loads_no_heavy_library(tmp_path):
    """``gantool sample`` on the bundled model imports none of the libraries that would break its
    cold-start budget (0.6 s, 120 MB): TensorFlow, the export tools, or pydantic (typer 0.29+ imports
    it on every command that parses an option; pyproject pins typer below 0.29)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys
        from gantool.cli import app
        try:
            app(["sample", "--out", {str(tmp_path / "grid.png")!r}])
        except SystemExit as exit:
            assert not exit.code, exit.code
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "keras", "tf2onnx", "onnx", "pydantic"}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert done.stdout.strip().splitlines()[-1] == "[]"
