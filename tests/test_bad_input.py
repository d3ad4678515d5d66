"""Bad input, every command: one line on stderr naming the problem, exit code 2, no output touched.

Each case runs the command line in-process (typer's CliRunner, as tests/test_cli.py
does) inside a fresh folder of bad inputs, and checks that:

- the exit code is 2;
- stderr is exactly one non-empty line, ``error: ...``, naming the problem, with no traceback;
- no file in the folder was created, changed or removed (outputs that existed beforehand
  hold known bytes, so "not overwritten" is checked too).

A few cases also run as real processes, where nothing is captured in-process.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app

from .bad_inputs import PREVIOUS, TINY_TFLITE, make_bad_inputs, make_onnx_models
from .conftest import FIXTURE_NPZ, TINY_ONNX

runner = CliRunner()


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad command line: ``args`` (with {placeholders} for the files below) and the words its error must hold."""

    id: str
    args: tuple[str, ...]
    message: str
    locked: bool = False  # needs a folder the command may not write to
    no_litert: bool = False  # runs with ai-edge-litert unimportable
    new_folders_ok: bool = False  # a failed --resume may leave empty subfolders in the run it was given


# -- the bad inputs (made by tests/bad_inputs.py) -------------------------------------------------


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("onnx")
    return make_onnx_models(tmp_path_factory.mktemp("onnx_models"))


@pytest.fixture
def paths(request, tmp_path, onnx_models) -> dict[str, str]:
    """Fresh bad inputs per case; damaged checkpoints only for the --resume cases."""
    tiny_run = request.getfixturevalue("tiny_run") if "resume" in request.node.name else None
    return make_bad_inputs(tmp_path / "work", onnx_models, tiny_run)


# -- the cases ----------------------------------------------------------------------------------

BAD_MODELS = {
    # name: (--model, words of the error; bench names a folder's problem in its own words)
    "missing": ("{work}/missing.onnx", "does not exist"),
    "empty-onnx": ("{empty_onnx}", "is empty"),
    "empty-tflite": ("{empty_tflite}", "is empty"),
    "truncated-onnx": ("{trunc_onnx}", "not a loadable ONNX model"),
    "truncated-tflite": ("{trunc_tflite}", "not a loadable TFLite model"),
    "png-file": ("{png}", "not a runnable model"),
    "png-bytes-as-onnx": ("{png_onnx}", "not a loadable ONNX model"),
    "text-as-tflite": ("{text_tflite}", "not a loadable TFLite model"),
    "keras-file": ("{trunc_keras}", "not a runnable model"),
    "folder": ("{folder}", "is a folder"),
    "tflite-without-metadata-not-a-generator": ("{tflite_not_a_generator}", "is not a float (batch, latent_dim)"),
    "onnx-without-metadata-not-a-generator": ("{onnx_not_a_generator}", "is not a float (batch, latent_dim)"),
    "onnx-contract-disagrees-with-graph": ("{onnx_mismatch}", "contract says (batch, 8)"),
}
MODEL_COMMANDS = {
    "sample": ("sample", "--out", "{old_png}", "--count", "4", "--cols", "2"),
    "info": ("info",),
    "eval": ("eval", "--count", "20", "--json", "{old_json}"),
    "bench": ("bench", "--no-quality", "--repeats", "1", "--json", "{old_json}"),
}
MODEL_CASES = [
    Case(f"{command}-{name}", (*args, "--model", model),
         "holds no exported generator" if (command, name) == ("bench", "folder") else message)
    for command, args in MODEL_COMMANDS.items()
    for name, (model, message) in BAD_MODELS.items()
] + [
    Case(f"{command}-tflite-without-litert", (*args, "--model", str(TINY_TFLITE)), "pip install 'gantool[tflite]'",
         no_litert=True)
    for command, args in MODEL_COMMANDS.items()
]

SAMPLE = ("sample", "--model", str(TINY_ONNX))
EVAL = ("eval", "--model", str(TINY_ONNX))
BENCH = ("bench", "--model", str(TINY_ONNX), "--repeats", "1")
TRAIN = ("train", "--recipe", "tutorial", "--epochs", "2", "--batch-size", "32", "--steps-per-epoch", "2", "--seed", "7", "--lr", "2e-4",
         "--beta1", "0.5")
RESUME = (*TRAIN, "--data", str(FIXTURE_NPZ), "--resume", "--out")
CLASSIFIER = ("train-classifier", "--epochs", "1")
KERAS_EXPORT = ("export", "--format", "onnx", "--out", "{old_onnx}", "--model")

OPTION_CASES = [
    # sample
    Case("sample-count-0", (*SAMPLE, "--out", "{old_png}", "--count", "0"), "--count must be a positive integer"),
    Case("sample-count-negative", (*SAMPLE, "--out", "{old_png}", "--count", "-5"), "--count must be a positive integer"),
    Case("sample-count-1e9-grid", (*SAMPLE, "--out", "{work}/grid.png", "--count", "1000000000"), "too large to look at"),
    Case("sample-count-1e9-npy", (*SAMPLE, "--npy", "{old_npy}", "--count", "1000000000"), "exceeds 1000000 images in memory"),
    Case("sample-seed-not-an-integer", (*SAMPLE, "--out", "{old_png}", "--seed", "abc"), "Invalid value for '--seed'"),
    Case("sample-seed-negative", (*SAMPLE, "--out", "{old_png}", "--seed", "-1"), "--seed must be a non-negative integer"),
    Case("sample-cols-above-count", (*SAMPLE, "--out", "{old_png}", "--count", "4", "--cols", "9"), "--cols must be between 1 and --count"),
    Case("sample-out-folder-missing", (*SAMPLE, "--out", "{work}/no/such/grid.png"), "does not exist; create it first"),
    Case("sample-out-is-a-folder", (*SAMPLE, "--out", "{folder}"), "is a folder; give a file name"),
    Case("sample-npy-folder-missing", (*SAMPLE, "--npy", "{work}/no/such/d.npy"), "does not exist; create it first"),
    Case("sample-out-unwritable", (*SAMPLE, "--out", "{locked}/grid.png"), "is not writable", locked=True),
    Case("sample-nothing-to-write", SAMPLE, "nothing to write"),
    Case("sample-scale-huge", (*SAMPLE, "--out", "{old_png}", "--scale", "100000"), "above the limit of 100,000,000"),
    Case("sample-scale-0", (*SAMPLE, "--out", "{old_png}", "--scale", "0"), "--scale must be a positive integer"),
    # --digit on the bundled model (a default-recipe model: its latent names the digit)
    Case("sample-bundled-digit-12", ("sample", "--out", "{old_png}", "--digit", "12"), "--digit must be in 0..9"),
    Case("sample-bundled-digit-negative", ("sample", "--out", "{old_png}", "--digit", "-1"), "--digit must be in 0..9"),
    Case("sample-bundled-digit-word", ("sample", "--out", "{old_png}", "--digit", "x"), "Invalid value for '--digit'"),
    # eval
    Case("eval-count-0", (*EVAL, "--count", "0", "--json", "{old_json}"), "--count must be at least 20"),
    Case("eval-count-negative", (*EVAL, "--count", "-5", "--json", "{old_json}"), "--count must be at least 20"),
    Case("eval-count-1e9", (*EVAL, "--count", "1000000000", "--json", "{old_json}"), "above the limit of 100000"),
    Case("eval-seed-not-an-integer", (*EVAL, "--seed", "1.5"), "Invalid value for '--seed'"),
    Case("eval-seed-negative", (*EVAL, "--count", "20", "--seed", "-3", "--json", "{old_json}"), "--seed must be a non-negative"),
    Case("eval-json-folder-missing", (*EVAL, "--count", "20", "--json", "{work}/no/such/e.json"), "does not exist"),
    Case("eval-sheet-is-a-folder", (*EVAL, "--count", "20", "--sheet", "{folder}"), "is a folder"),
    Case("eval-json-unwritable", (*EVAL, "--count", "20", "--json", "{locked}/e.json"), "is not writable", locked=True),
    Case("eval-data-missing", (*EVAL, "--count", "20", "--data", "{work}/mnist.npz"), "does not exist"),
    Case("eval-data-missing-keys", (*EVAL, "--count", "20", "--data", "{npz_missing_keys}"), "is missing y_train, x_test, y_test"),
    Case("eval-data-pickled", (*EVAL, "--count", "20", "--data", "{npz_pickled}"), "holds a pickled object array, which gantool will not load"),
    Case("eval-data-idx-bad-magic", (*EVAL, "--count", "20", "--data", "{idx_bad_magic}"), "bad magic number 0x00000a03"),
    # bench
    Case("bench-count-0", (*BENCH, "--count", "0", "--json", "{old_json}"), "--no-quality"),
    Case("bench-count-negative", (*BENCH, "--count", "-5"), "--count must be at least 20"),
    Case("bench-count-1e9", (*BENCH, "--count", "1000000000"), "above the limit of 100000"),
    Case("bench-batch-0", (*BENCH, "--batch", "0"), "--batch must be positive"),
    Case("bench-json-folder-missing", (*BENCH, "--json", "{work}/no/such/b.json"), "does not exist"),
    Case("bench-formats-with-one-file", (*BENCH, "--formats", "tflite/int8"), "--formats picks files in a folder"),
    # export
    Case("export-missing", (*KERAS_EXPORT, "{work}/missing.keras"), "does not exist"),
    Case("export-empty", (*KERAS_EXPORT, "{empty_keras}"), "not a readable .keras archive"),
    Case("export-truncated-keras", (*KERAS_EXPORT, "{trunc_keras}"), "not a readable .keras archive"),
    Case("export-png-file", (*KERAS_EXPORT, "{png}"), "not a Keras model file"),
    Case("export-png-bytes-as-keras", (*KERAS_EXPORT, "{png_keras}"), "not a readable .keras archive"),
    Case("export-text-as-keras", (*KERAS_EXPORT, "{text_keras}"), "not a readable .keras archive"),
    Case("export-onnx-as-source", (*KERAS_EXPORT, str(TINY_ONNX)), "is an exported model already; export reads the Keras source"),
    Case("export-bundled-as-source", (*KERAS_EXPORT, "bundled"), "export reads the Keras source"),
    Case("export-folder-without-generator", (*KERAS_EXPORT, "{folder}"), "has no generator.keras"),
    Case("export-onnx-fp16", ("export", "--model", "{trunc_keras}", "--format", "onnx", "--quantize", "fp16",
                              "--out", "{old_onnx}"), "--format onnx --quantize fp16 is not supported"),
    Case("export-onnx-dynamic", ("export", "--model", "{trunc_keras}", "--format", "onnx", "--quantize", "dynamic",
                                 "--out", "{old_onnx}"), "--format onnx --quantize dynamic is not supported"),
    Case("export-unknown-format", ("export", "--model", "{trunc_keras}", "--format", "coreml", "--out", "{old_onnx}"),
         "Invalid value for '--format'"),
    Case("export-unknown-quantization", ("export", "--model", "{trunc_keras}", "--quantize", "int4", "--out", "{old_onnx}"),
         "Invalid value for '--quantize'"),
    Case("export-suffix-disagrees", ("export", "--model", "{trunc_keras}", "--format", "tflite", "--out", "{old_onnx}"),
         "--out must end with .tflite"),
    Case("export-out-folder-missing", ("export", "--model", "{trunc_keras}", "--out", "{work}/no/such/g.onnx"), "does not exist"),
    Case("export-out-is-a-folder", ("export", "--model", "{trunc_keras}", "--out", "{folder_onnx}"), "is a folder"),
    Case("export-out-unwritable", ("export", "--model", "{trunc_keras}", "--out", "{locked}/g.onnx"), "is not writable",
         locked=True),
    Case("export-unknown-graph", ("export", "--model", "{trunc_keras}", "--graph", "fastest", "--out", "{old_onnx}"),
         "--graph must be one of auto, fastest-here, plain, layerwise, layerwise+fourier, optimized, optimized+fourier"),
    Case("export-calibration-0", ("export", "--model", "{trunc_keras}", "--quantize", "int8", "--calibration-size", "0",
                                  "--out", "{old_onnx}"), "--calibration-size must be"),
    Case("export-all-missing-model", ("export", "--format", "all", "--model", "{work}/missing.keras",
                                      "--out", "{work}/exports"), "does not exist"),
    Case("export-tflite-without-litert", ("export", "--format", "tflite", "--model", "{trunc_keras}",
                                          "--out", "{old_tflite}"), "pip install 'gantool[tflite]'", no_litert=True),
    # train --data
    Case("train-data-missing", (*TRAIN, "--out", "{work}/run", "--data", "{work}/mnist.npz"), "does not exist"),
    Case("train-data-empty", (*TRAIN, "--out", "{work}/run", "--data", "{empty_npz}"), "not an .npz archive"),
    Case("train-data-text", (*TRAIN, "--out", "{work}/run", "--data", "{text_npz}"), "not an .npz archive"),
    Case("train-data-png", (*TRAIN, "--out", "{work}/run", "--data", "{png}"), "not an .npz archive"),
    Case("train-data-npy-not-npz", (*TRAIN, "--out", "{work}/run", "--data", "{npy}"), "not an .npz archive"),
    Case("train-data-truncated", (*TRAIN, "--out", "{work}/run", "--data", "{trunc_npz}"), "not an .npz archive"),
    Case("train-data-missing-keys", (*TRAIN, "--out", "{work}/run", "--data", "{npz_missing_keys}"), "is missing y_train"),
    Case("train-data-wrong-dtype", (*TRAIN, "--out", "{work}/run", "--data", "{npz_wrong_dtype}"),
         "x_train must be uint8 (n, 28, 28), got float32"),
    Case("train-data-wrong-shape", (*TRAIN, "--out", "{work}/run", "--data", "{npz_wrong_shape}"),
         "x_train must be uint8 (n, 28, 28), got uint8 (50, 32, 32)"),
    Case("train-data-pickled", (*TRAIN, "--out", "{work}/run", "--data", "{npz_pickled}"), "holds a pickled object array, which gantool will not load"),
    Case("train-data-idx-bad-magic", (*TRAIN, "--out", "{work}/run", "--data", "{idx_bad_magic}"), "bad magic number"),
    Case("train-data-idx-lengths-disagree", (*TRAIN, "--out", "{work}/run", "--data", "{idx_lengths}"),
         "its header says (51, 28, 28)"),
    # a folder without MNIST's IDX files is a folder of images
    Case("train-data-empty-folder", (*TRAIN, "--out", "{work}/run", "--data", "{folder}"),
         "holds no file with an image extension"),
    Case("train-data-no-readable-image", (*TRAIN, "--out", "{work}/run", "--data", "{unreadable_images}"),
         "holds no readable image (7/cut.png: "),
    # train --out, options
    Case("train-out-is-a-file", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{a_file}"), "is a file, not a folder"),
    Case("train-out-unwritable", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{locked}/run"), "is not writable",
         locked=True),
    Case("train-seed-not-an-integer", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{work}/run", "--seed", "x"),
         "Invalid value for '--seed'"),
    Case("train-eval-count-1e9", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{work}/run", "--eval-every", "1",
                                  "--eval-count", "1000000000"), "--eval-count 1000000000 is above the limit"),
    Case("train-batch-larger-than-data", ("train", "--data", "{npz_small}", "--out", "{work}/run", "--batch-size", "64"),
         "--batch-size 64 is larger than the 50 training images"),
    Case("train-epochs-0", ("train", "--data", str(FIXTURE_NPZ), "--out", "{work}/run", "--epochs", "0"), "--epochs"),
    Case("train-image-size-0", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{work}/run", "--image-size", "0"),
         "--image-size must be a whole number of pixels >= 1, got 0"),
    Case("train-image-size-negative", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{work}/run", "--image-size", "-3"),
         "--image-size must be a whole number of pixels >= 1, got -3"),
    Case("train-image-size-not-an-integer", (*TRAIN, "--data", str(FIXTURE_NPZ), "--out", "{work}/run",
                                             "--image-size", "abc"), "Invalid value for '--image-size'"),
    Case("train-channels-2", (*TRAIN, "--data", "{folder}", "--out", "{work}/run", "--channels", "2"),
         "--channels must be 1 (greyscale) or 3 (colour), got 2"),
    # train --resume
    Case("resume-no-checkpoint", (*RESUME, "{folder}"), "no checkpoint at"),
    Case("resume-truncated", (*RESUME, "{ckpt_truncated}"), "is corrupt or partial"),
    Case("resume-only-a-killed-temp-file", (*RESUME, "{ckpt_stale_temp_only}"), "no checkpoint at"),
    Case("resume-checkpoint-is-a-folder", (*RESUME, "{ckpt_folder}"), "is not a file"),
    Case("resume-pickled-meta", (*RESUME, "{ckpt_pickled}"), "pickled object array"),
    Case("resume-bit-flip", (*RESUME, "{ckpt_bit_flip}"), "is corrupt", new_folders_ok=True),
    Case("resume-weights-missing", (*RESUME, "{ckpt_partial}"), "saved variables, the model has", new_folders_ok=True),
    # train-classifier
    Case("classifier-data-missing", (*CLASSIFIER, "--out", "{assets}", "--data", "{work}/mnist.npz"), "does not exist"),
    Case("classifier-data-empty", (*CLASSIFIER, "--out", "{assets}", "--data", "{empty_npz}"), "not an .npz archive"),
    Case("classifier-data-missing-keys", (*CLASSIFIER, "--out", "{assets}", "--data", "{npz_missing_keys}"), "is missing"),
    Case("classifier-data-pickled", (*CLASSIFIER, "--out", "{assets}", "--data", "{npz_pickled}"), "holds a pickled object array, which gantool will not load"),
    Case("classifier-data-idx-lengths", (*CLASSIFIER, "--out", "{assets}", "--data", "{idx_lengths}"), "header says"),
    Case("classifier-out-missing", (*CLASSIFIER, "--data", str(FIXTURE_NPZ), "--out", "{work}/no/such"), "is not a folder"),
    Case("classifier-out-is-a-file", (*CLASSIFIER, "--data", str(FIXTURE_NPZ), "--out", "{a_file}"), "is a file; pass a folder"),
    Case("classifier-out-unwritable", (*CLASSIFIER, "--data", str(FIXTURE_NPZ), "--out", "{locked}"), "is not writable",
         locked=True),
    Case("classifier-seed-not-an-integer", (*CLASSIFIER, "--data", str(FIXTURE_NPZ), "--out", "{assets}", "--seed", "0x1"),
         "Invalid value for '--seed'"),
]

CASES = MODEL_CASES + OPTION_CASES


def _snapshot(folder: Path) -> tuple[dict[str, bytes], set[str]]:
    """Every file's bytes and every folder under ``folder``."""
    files, folders = {}, set()
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_dir():
            folders.add(name)
        else:
            files[name] = path.read_bytes()
    return files, folders


def _lock(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unwritable: chmod, or (root ignores modes) deny it through os.access."""
    os.chmod(folder, 0o500)
    if os.access(folder, os.W_OK):
        real_access = os.access

        def access(path, mode, *args, **kwargs):
            if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)


def _block_litert(monkeypatch) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "ai_edge_litert"] + ["ai_edge_litert",
                                                                                   "ai_edge_litert.interpreter"]:
        monkeypatch.setitem(sys.modules, name, None)


def one_error_line(stderr: str) -> str:
    """The one line of a clean error, or a failed assertion that shows what came instead."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, paths, monkeypatch):
    work = Path(paths["work"])
    if case.locked:
        _lock(Path(paths["locked"]), monkeypatch)
    if case.no_litert:
        _block_litert(monkeypatch)
    before_files, before_folders = _snapshot(work)
    try:
        result = runner.invoke(app, [arg.format(**paths) for arg in case.args])
    finally:
        os.chmod(paths["locked"], 0o700)
    line = one_error_line(result.stderr)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert case.message in line, line
    after_files, after_folders = _snapshot(work)
    assert after_files == before_files, "files created, changed or removed: " + ", ".join(
        sorted(set(after_files) ^ set(before_files)) or [k for k in after_files if after_files[k] != before_files.get(k)])
    new_folders = after_folders - before_folders
    if case.new_folders_ok:
        run = Path(case.args[-1].format(**paths)).relative_to(work)
        new_folders = {f for f in new_folders if not f.startswith(f"{run}/")}
    assert not new_folders, f"folders created: {sorted(new_folders)}"
    print(f"{case.id}: {line}")  # shown with -s: the matrix and its messages, for the record


# -- what is not an error: a generator without gantool metadata (ONNX or TFLite) ----------------


def test_onnx_without_metadata_is_sampled_from_its_graph(onnx_models, tmp_path):
    import onnxruntime as ort

    from gantool.runtime import Generator

    for name, shape in (("no_meta", (28, 28, 1)), ("no_meta_hw", (20, 24, 1))):
        path = onnx_models[name]
        out = tmp_path / f"{name}.npy"
        result = runner.invoke(app, ["sample", "--model", str(path), "--npy", str(out), "--count", "5", "--seed", "2",
                                     "--out", str(tmp_path / f"{name}.png"), "--cols", "5"])
        assert result.exit_code == 0, result.output
        images = np.load(out, allow_pickle=False)
        assert images.shape == (5, *shape) and images.dtype == np.uint8
        # The same pixels as running the graph by hand on the documented latents, tanh range assumed.
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        z = np.random.default_rng(2).standard_normal((5, session.get_inputs()[0].shape[1]), dtype=np.float32)
        raw = session.run(None, {"z": z})[0].reshape(5, *shape)
        np.testing.assert_array_equal(images, np.clip(np.rint((raw + 1) * 127.5), 0, 255).astype(np.uint8))
        contract = Generator.load(path).contract
        assert (contract.arch, contract.value_range, tuple(contract.image_shape)) == ("unknown", (-1.0, 1.0), shape)
    result = runner.invoke(app, ["info", "--model", str(onnx_models["no_meta"])])
    assert result.exit_code == 0 and "unknown" in result.output


def test_tflite_without_metadata_is_sampled_from_its_graph(paths, tmp_path):
    """gantool's own TFLite export with its metadata entry renamed: the same digits, and a note saying why."""
    pytest.importorskip("ai_edge_litert")
    out = tmp_path / "foreign.npy"
    result = runner.invoke(app, ["sample", "--model", paths["tflite_no_meta"], "--npy", str(out), "--count", "6"])
    assert result.exit_code == 0, result.output
    assert "has no gantool contract; read from its graph: latent_dim 8 -> (28, 28, 1)" in result.stderr
    expected = tmp_path / "expected.npy"
    assert runner.invoke(app, ["sample", "--model", str(TINY_TFLITE), "--npy", str(expected), "--count", "6"]).exit_code == 0
    np.testing.assert_array_equal(np.load(out), np.load(expected))


# -- the same promises in real processes (nothing captured in-process, nothing monkeypatched) ----


def _gantool(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gantool", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_real_process_errors_are_one_line(tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(PREVIOUS)
    for args, message in (
        (("sample", "--model", str(TINY_ONNX), "--out", str(out), "--seed", "abc"), "Invalid value for '--seed'"),
        (("sample", "--model", str(tmp_path / "missing.onnx"), "--out", str(out)), "does not exist"),
    ):
        done = _gantool(*args)
        assert done.returncode == 2 and message in one_error_line(done.stderr), done.stderr
    assert out.read_bytes() == PREVIOUS


def test_real_process_without_litert(tmp_path):
    """ai-edge-litert made unimportable for the whole process, as in a base install."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "ai_edge_litert":
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
    """))
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "grid.png"
    done = _gantool("sample", "--model", str(TINY_TFLITE), "--out", str(out), env=env)
    assert done.returncode == 2 and "pip install 'gantool[tflite]'" in one_error_line(done.stderr), done.stderr
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path):
    done = _gantool("--debug", "sample", "--model", str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "g.png"))
    assert done.returncode == 1 and "Traceback" in done.stderr and "ModelFileError" in done.stderr
