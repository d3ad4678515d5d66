"""Every registry format: export, validate, sample through the runtime, and fail cleanly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from gantool.cli import app
from gantool.errors import (
    ConversionError,
    ExportValidationError,
    GantoolError,
    MissingExtraError,
    ModelFileError,
    UnsupportedFormatError,
)
from gantool.export.registry import REGISTRY, ExportOptions, Status, lookup, supported_pairs

runner = CliRunner()
KEYS = [entry.key for entry in REGISTRY]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# --- the registry (no TensorFlow) -------------------------------------------------------------


def test_registry_has_every_pair_once():
    assert KEYS == ["onnx/none", "onnx/int8", "tflite/none", "tflite/fp16", "tflite/int8", "tflite/dynamic"]
    assert len({(e.stem, e.suffix) for e in REGISTRY}) == len(REGISTRY)
    for entry in REGISTRY:
        assert entry.suffix == f".{entry.format.value}"
        assert entry.calibrated == (entry.quantize.value == "int8")
        assert entry.tolerance.max_abs > 0
    assert lookup("tflite", "dynamic").status is Status.not_recommended


@pytest.mark.parametrize("pair", [("onnx", "fp16"), ("onnx", "dynamic"), ("coreml", "none"), ("tflite", "int4")])
def test_registry_refuses_unsupported_pairs(pair):
    with pytest.raises(UnsupportedFormatError) as info:
        lookup(*pair)
    message = str(info.value)
    assert "\n" not in message and f"`format` {pair[0]} `quantize` {pair[1]}" in message
    assert supported_pairs() in message


def test_calibration_size_is_checked():
    for bad in (0, -5, 10**9, True):
        with pytest.raises(GantoolError, match="`calibration_size`"):
            ExportOptions(calibration_size=bad)


def test_export_report_comes_from_the_converters_result(tmp_path):
    from gantool.export.all_formats import describe_export
    from gantool.export.validate import ExportResult, Parity

    out = tmp_path / "g.onnx"
    out.write_bytes(b"\0" * 250_000)  # never opened: the lines come from the result alone
    result = ExportResult(out, Parity(0.5, 0.01, 30.0), graph="optimized", float_ops=("Gemm",), calibration_size=256)
    lines = describe_export(lookup("onnx", "int8"), result, ExportOptions())
    assert lines[0] == f"Wrote {out} (0.25 MB), onnx/int8, opset 17, optimized graph, calibrated on 256 latents, Gemm left in float"
    assert "max |Δ| 5.00e-01, mean |Δ| 1.00e-02, PSNR 30.0 dB (bound max |Δ| ≤ 0.75, mean |Δ| ≤ 0.02)" in lines[1]


def test_cli_refuses_unsupported_pair_in_one_line(tmp_path):
    result = invoke("export", "--format", "onnx", "--quantize", "dynamic", "--model", tmp_path, "--out", tmp_path / "g.onnx")
    assert result.exit_code == 2
    assert "not supported; supported: onnx/none" in result.output and "Traceback" not in result.output
    result = invoke("export", "--format", "tflite", "--model", tmp_path, "--out", tmp_path / "g.onnx")
    assert result.exit_code == 2 and "must end with .tflite" in result.output
    result = invoke("export", "--format", "all", "--quantize", "int8", "--model", tmp_path, "--out", tmp_path)
    assert result.exit_code == 2 and "drop --quantize" in result.output


def test_export_help_comes_from_the_registry():
    result = invoke("export", "--help")
    assert result.exit_code == 0
    for key in KEYS:
        assert key in result.output
    assert "not recommended" in result.output and "--calibration-size" in result.output


# --- round trip per entry on the tiny trained generator -----------------------------------------


@pytest.fixture(scope="module")
def exports(tiny_keras, tmp_path_factory):
    """Every registry entry exported (and validated) once: {key: ExportOutcome}."""
    from gantool.export.all_formats import export_all

    model, contract = tiny_keras
    folder = tmp_path_factory.mktemp("formats")
    return {o.entry.key: o for o in export_all(model, contract, folder, ExportOptions(calibration_size=64))}


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_round_trip_within_bound(exports, tiny_keras, key):
    from gantool.runtime import Generator

    outcome = exports[key]
    assert outcome.status.value == "passed", outcome.message
    assert outcome.path.is_file() and outcome.size_bytes == outcome.path.stat().st_size
    entry = outcome.entry
    generator = Generator.load(outcome.path)
    assert generator.contract.quantization == entry.quantize.value
    assert generator.contract.calibration_size == (64 if entry.calibrated else 0)
    # The converter's result says what the file's own contract says: nobody reopens the file to learn it.
    result = outcome.result
    assert (result.calibration_size, result.float_ops) == (generator.contract.calibration_size, generator.contract.float_ops)
    assert result.graph == (generator.backend.session.get_modelmeta().custom_metadata_map["gantool.graph"]
                            if entry.format.value == "onnx" else "")
    assert generator.contract.latent_dim == tiny_keras[1].latent_dim
    # Latents the validator never saw, in uneven batches (1, 7, 7, 7, 3 rows).
    z = generator.latents(25, seed=99)
    images = np.concatenate([generator.generate(z[:1]), generator.generate(z[1:], batch_size=7)])
    reference = np.asarray(tiny_keras[0](z, training=False))
    diff = np.abs(images - reference)
    assert diff.max() <= entry.tolerance.max_abs
    if entry.tolerance.mean_abs is not None:
        assert diff.mean() <= entry.tolerance.mean_abs
    assert generator.sample(count=5, seed=1).dtype == np.uint8


@pytest.mark.slow
def test_quantized_files_are_smaller(exports):
    for fmt in ("onnx", "tflite"):
        fp32 = exports[f"{fmt}/none"].size_bytes
        # The fully connected layer (half the weights) stays float in int8 exports: about two thirds
        # of the float file (the float ONNX file's size depends on the graph its export chose).
        assert exports[f"{fmt}/int8"].size_bytes < fp32 * 0.7
    assert exports["tflite/fp16"].size_bytes < exports["tflite/none"].size_bytes * 0.6


@pytest.mark.slow
def test_report_json_and_table(exports, tiny_keras, tmp_path):
    from gantool.export.all_formats import format_table, write_report

    outcomes = list(exports.values())
    path = write_report(tmp_path, outcomes, tiny_keras[1], tmp_path / "g.keras", ExportOptions())
    report = json.loads(path.read_text())
    assert [f"{e['format']}/{e['quantize']}" for e in report["exports"]] == KEYS
    for row in report["exports"]:
        assert row["status"] == "passed" and row["size_bytes"] > 0
        assert set(row["parity"]) == {"max_abs", "mean_abs", "psnr_db"}
        assert row["sample_command"].startswith("gantool sample --model ")
    table = format_table(outcomes)
    assert "PSNR" in table and "passed (not recommended)" in table
    assert table.count("gantool sample") == len(KEYS)


@pytest.mark.slow
def test_tflite_copied_elsewhere_samples_without_tensorflow(exports, tmp_path):
    """The file alone is enough, and the runtime reads it with TensorFlow unimportable."""
    from gantool.runtime import Generator

    source = exports["tflite/int8"].path
    copy = tmp_path / "elsewhere" / "digits.tflite"
    copy.parent.mkdir()
    shutil.copy(source, copy)
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["tensorflow"] = None  # any import of TensorFlow now fails
        import numpy as np
        from gantool.runtime import Generator
        generator = Generator.load({str(copy)!r})
        np.save({str(tmp_path / "images.npy")!r}, generator.sample(count=9, seed=3))
        print(json.dumps(generator.contract.to_dict()))
        assert "tensorflow" not in {{m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}}
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    contract = json.loads(done.stdout.strip().splitlines()[-1])
    expected = Generator.load(source)
    assert contract == expected.contract.to_dict()
    assert contract["quantization"] == "int8" and contract["calibration_size"] == 64
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), expected.sample(count=9, seed=3))


@pytest.mark.slow
@pytest.mark.parametrize("batch", [3, None])
def test_tflite_backend_runs_other_static_and_dynamic_batches(tiny_keras, tmp_path, monkeypatch, batch):
    """gantool exports batch 1; a file with batch 3 (padded chunks) or a dynamic batch (resized) runs too."""
    from gantool.export import keras_to_tflite
    from gantool.runtime import Generator

    model, contract = tiny_keras
    original = keras_to_tflite.static_batch_model
    monkeypatch.setattr(keras_to_tflite, "static_batch_model",
                        lambda m, c: original(m, c, batch=batch) if batch else m)
    entry = lookup("tflite", "none")
    out = tmp_path / "g.tflite"
    entry.load_converter()(model, contract, out, entry, ExportOptions())  # parity at batch 1 and 64
    generator = Generator.load(out)
    assert generator.backend._static_batch == batch
    z = generator.latents(5, seed=2)
    np.testing.assert_allclose(generator.generate(z, batch_size=4), np.asarray(model(z)), atol=entry.tolerance.max_abs)


# --- clean failures -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("key", ["tflite/none", "onnx/int8"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "header_only"])
def test_corrupt_model_file_is_one_clean_error(exports, tmp_path, key, damage):
    from gantool.runtime import Generator

    data = exports[key].path.read_bytes()
    bad = {"truncated": data[: len(data) // 2], "garbage": b"not a model " * 50, "header_only": data[:64]}[damage]
    path = tmp_path / exports[key].path.name
    path.write_bytes(bad)
    with pytest.raises(ModelFileError) as info:
        Generator.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    result = invoke("sample", "--model", path, "--out", tmp_path / "grid.png")
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.slow
def test_tflite_contract_lives_in_the_metadata(exports, tmp_path):
    from gantool.export.keras_to_tflite import embed_metadata
    from gantool.runtime import Generator
    from gantool.runtime.backends.tflite_backend import read_metadata

    data = exports["tflite/none"].path.read_bytes()
    again = embed_metadata(data, "gantool.contract", b'{"replaced": true}')
    assert read_metadata(again, "gantool.contract") == b'{"replaced": true}'
    assert again.count(b"gantool.contract") == 1 and read_metadata(again, "min_runtime_version")
    renamed = tmp_path / "foreign.tflite"
    renamed.write_bytes(data.replace(b"gantool.contract", b"someone.contract"))
    # Without the entry, the contract is read from the graph instead (and the training recipe is lost).
    original, foreign = Generator.load(exports["tflite/none"].path), Generator.load(renamed)
    assert foreign.contract.arch == "unknown" and not foreign.contract.training and foreign.contract_note
    assert (foreign.contract.latent_dim, foreign.contract.output_shape) == (original.contract.latent_dim,
                                                                          original.contract.output_shape)
    assert not original.contract_note


@pytest.mark.slow
def test_tflite_from_tfliteconverter_without_metadata_samples(tmp_path):
    """A user's own generator converted with TFLiteConverter.from_keras_model (as the TensorFlow tutorial's
    would be), with no gantool metadata: `gantool sample` infers its contract and says so on stderr."""
    import keras
    import tensorflow as tf

    from gantool.runtime.contract import latents

    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(7 * 7 * 4), keras.layers.Reshape((7, 7, 4)),
        keras.layers.Conv2DTranspose(1, 4, strides=4, padding="same", activation="tanh"),
    ])
    path = tmp_path / "tutorial.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    result = invoke("sample", "--model", path, "--out", tmp_path / "x.png", "--npy", tmp_path / "x.npy",
                    "--count", 6, "--cols", 3, "--seed", 4)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.png").stat().st_size > 0
    assert f"note: {path} has no gantool contract; read from its graph: latent_dim 8 -> (28, 28, 1)" in result.stderr
    expected = model(latents(6, 8, seed=4)).numpy()
    pixels = np.load(tmp_path / "x.npy").astype(np.float64)
    # Pixels of the tanh range [-1, 1]: within one 8-bit level of Keras' own output.
    assert np.abs(pixels - (expected + 1) * 127.5).max() <= 1.0


@pytest.mark.slow
def test_tflite_without_litert_names_the_extra(exports, tmp_path, monkeypatch):
    from gantool.runtime import Generator

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    path = exports["tflite/fp16"].path
    with pytest.raises(MissingExtraError, match=r"pip install 'gantool\[tflite\]'"):
        Generator.load(path)
    result = invoke("sample", "--model", path, "--out", tmp_path / "grid.png")
    assert result.exit_code == 2 and "gantool[tflite]" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_tflite_parity_breach_leaves_no_file(tiny_keras, tmp_path, monkeypatch):
    from gantool.export import keras_to_tflite

    model, contract = tiny_keras
    monkeypatch.setattr(keras_to_tflite, "tflite_runner", lambda path: lambda z: np.asarray(model(z)) + 0.5)
    entry = lookup("tflite", "int8")
    with pytest.raises(ExportValidationError, match="mean"):
        entry.load_converter()(model, contract, tmp_path / "g.tflite", entry, ExportOptions(calibration_size=8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_onnx_int8_parity_breach_leaves_no_file(tiny_keras, tmp_path, monkeypatch):
    from gantool.export import keras_to_onnx

    model, contract = tiny_keras
    monkeypatch.setattr(keras_to_onnx, "onnx_runner", lambda path: lambda z: -np.asarray(model(z)))
    entry = lookup("onnx", "int8")
    with pytest.raises(ExportValidationError):
        entry.load_converter()(model, contract, tmp_path / "g.onnx", entry, ExportOptions(calibration_size=8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_flex_ops_fail_the_export(exports, tiny_keras, tmp_path, monkeypatch):
    from gantool.export import keras_to_tflite

    assert keras_to_tflite.custom_ops(exports["tflite/int8"].path.read_bytes()) == []
    monkeypatch.setattr(keras_to_tflite, "custom_ops", lambda data: ["FlexErf"])
    model, contract = tiny_keras
    entry = lookup("tflite", "none")
    with pytest.raises(ConversionError, match="FlexErf"):
        entry.load_converter()(model, contract, tmp_path / "g.tflite", entry, ExportOptions())
    assert list(tmp_path.iterdir()) == []


# --- --format all through the CLI (converters stubbed: the wiring, not TensorFlow) ---------------


@pytest.mark.slow
def test_cli_format_all_writes_table_and_report(tiny_run, tmp_path, monkeypatch):
    from gantool.export import all_formats
    from gantool.export.validate import ExportResult, Parity

    def fake_export(keras_model, contract, entry, out, options):
        if entry.key == "tflite/dynamic":
            raise ConversionError("converter exploded")
        out.write_bytes(b"model")
        return ExportResult(out, Parity(max_abs=1e-6, mean_abs=1e-7, psnr_db=120.0))

    monkeypatch.setattr(all_formats, "export_one", fake_export)
    folder = tmp_path / "exports"
    (folder).mkdir()
    stale = folder / lookup("tflite", "dynamic").file_name
    stale.write_bytes(b"from an earlier run")
    result = invoke("export", "--format", "all", "--model", tiny_run, "--out", folder)
    assert result.exit_code == 2
    assert "1 of 6 exports failed (tflite/dynamic)" in result.output
    assert "export failed" in result.output and "converter exploded" in result.output
    assert not stale.exists()
    report = json.loads((folder / "report.json").read_text())
    statuses = {f"{e['format']}/{e['quantize']}": e["status"] for e in report["exports"]}
    assert statuses.pop("tflite/dynamic") == "export failed"
    assert set(statuses.values()) == {"passed"}


@pytest.mark.slow
def test_cli_single_tflite_export(tiny_run, tmp_path):
    out = tmp_path / "g.tflite"
    result = invoke("export", "--format", "tflite", "--quantize", "fp16", "--model", tiny_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert "tflite/fp16" in result.output and "max |Δ|" in result.output
    result = invoke("sample", "--model", out, "--out", tmp_path / "grid.png", "--count", 10, "--cols", 5)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.slow
def test_format_all_report_carries_quality(tiny_keras, tmp_path):
    from gantool.export.all_formats import export_all, format_table
    from gantool.export.registry import ExportOptions

    model, contract = tiny_keras
    outcomes = export_all(model, contract, tmp_path, ExportOptions(), entries=[lookup("onnx", "none")], eval_count=40)
    quality = outcomes[0].to_dict()["quality"]
    assert quality["count"] == 40 and quality["fid"] > 0 and 1.0 <= quality["mnist_score"] <= 10.0
    assert "FID" in format_table(outcomes) and f"{quality['fid']:.3f}" in format_table(outcomes)


def _tflite_op_input_dtypes(path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    return {op["op_name"]: {tensors[i] for i in op["inputs"] if i >= 0} for op in interpreter._get_ops_details()}


@pytest.mark.slow
def test_int8_exports_say_what_they_left_in_float(exports):
    """ONNX int8 keeps the latent projection in float; TFLite int8 is fully integer when that passes."""
    import onnx

    from gantool.runtime import Generator

    graph = onnx.load(exports["onnx/int8"].path).graph
    produced_by = {out: node.op_type for node in graph.node for out in node.output}
    floats = {init.name for init in graph.initializer if init.data_type == onnx.TensorProto.FLOAT}
    gemms = [n for n in graph.node if n.op_type in ("Gemm", "MatMul")]
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert gemms and all(n.input[1] in floats for n in gemms)
    assert convs and all(produced_by.get(n.input[1]) == "DequantizeLinear" for n in convs)
    assert Generator.load(exports["onnx/int8"].path).contract.float_ops == ("Gemm",)

    dtypes = _tflite_op_input_dtypes(exports["tflite/int8"].path)
    assert Generator.load(exports["tflite/int8"].path).contract.float_ops == ()
    assert np.int8 in dtypes["FULLY_CONNECTED"] and np.int8 in dtypes["TRANSPOSE_CONV"]


@pytest.mark.slow
def test_tflite_int8_keeps_the_projection_float_when_fully_integer_misses(tiny_keras, tmp_path, monkeypatch):
    from gantool.export import keras_to_tflite
    from gantool.export.validate import Parity, ParityError
    from gantool.runtime import Generator

    model, contract = tiny_keras
    real_check, calls = keras_to_tflite.check_parity, []

    def first_attempt_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ParityError("export differs from the Keras model: max |Δ| 0.9", Parity(0.9, 0.01, 30.0))
        return real_check(*args, **kwargs)

    monkeypatch.setattr(keras_to_tflite, "check_parity", first_attempt_fails)
    entry = lookup("tflite", "int8")
    out = tmp_path / "g.tflite"
    result = entry.load_converter()(model, contract, out, entry, ExportOptions(calibration_size=8))
    assert len(calls) == 2
    assert Generator.load(out).contract.float_ops == result.float_ops == ("FULLY_CONNECTED",)
    assert _tflite_op_input_dtypes(out)["FULLY_CONNECTED"] == {np.float32}
    # When both attempts miss, the error names both and nothing is written.
    monkeypatch.setattr(keras_to_tflite, "check_parity", lambda *a, **k: (_ for _ in ()).throw(
        ParityError("export differs from the Keras model: max |Δ| 0.8", Parity(0.8, 0.01, 30.0))))
    with pytest.raises(ExportValidationError, match=r"0\.8.*fully integer: max \|Δ\| 0\.8"):
        entry.load_converter()(model, contract, tmp_path / "h.tflite", entry, ExportOptions(calibration_size=8))
    assert not (tmp_path / "h.tflite").exists()


@pytest.mark.slow
def test_parity_reference_is_the_keras_model_in_float64(tiny_keras):
    from gantool.export.validate import exact_model, reference_outputs

    model, contract = tiny_keras
    exact = exact_model(model)
    assert {w.dtype for w in exact.weights} == {"float64"} and model.weights[0].dtype == "float32"
    z = np.random.default_rng(5).standard_normal((4, contract.latent_dim)).astype(np.float32)
    out = reference_outputs(model, z)
    assert out.dtype == np.float64
    assert np.abs(out - np.asarray(model(z, training=False))).max() < 1e-4  # same function, other rounding
