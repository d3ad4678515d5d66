"""Keras generator -> TFLite (LiteRT) in float32, fp16, full int8 or dynamic range.

Conversion goes through ``tf.lite.TFLiteConverter.from_keras_model``. It does
not go through ``from_concrete_functions`` on a ``tf.function`` that captures
Keras 3 variables: there those variables are not frozen, the float output is
NaN and int8 calibration crashes.

The converted model has a static batch of :data:`EXPORT_BATCH` (1). With a
dynamic batch the converter computes each TRANSPOSE_CONV's output shape at run
time (SHAPE -> PACK), and XNNPACK, which needs that shape constant, leaves the
op to much slower builtin kernels (dynamic-range int8 most of all). The runtime
backend runs a larger batch one latent at a time, so any ``count`` still works.

Full int8 is tried fully integer first. When that misses the parity bound,
the export is redone with fully connected layers (the latent projection) in
float, as the ONNX int8 export always does (:mod:`gantool.export.onnx_quantize`
says why), and with the few small ops of a digit code's one-hot (a comparison of
int8 latents would call near-ties ties and draw the wrong digit); the
contract's ``float_ops`` says which of them the model has: the
converter quantizes everything else, and the public
``tf.lite.experimental.QuantizationDebugger`` with ``denylisted_ops`` is
TensorFlow's documented way to leave an op type out. On a well-trained
generator the fully integer file can miss the int8 bound where the one with
FULLY_CONNECTED in float meets it. A fully integer file suits integer-only
accelerators and runs faster on CPUs (at batch 1 the float layer streams its
weights on every call), so it is kept whenever it is accurate enough.

Only builtin TFLite ops are allowed: a Flex (SELECT_TF_OPS) or other custom op
would need TensorFlow at run time, so such an export fails.

The model contract travels inside the file as a TFLite metadata entry named
``gantool.contract`` (the flatbuffer's ``Model.metadata`` -> a buffer holding
the contract's JSON). That is the schema's own place for named, opaque
metadata; the interpreter ignores it and the runtime reads it without
TensorFlow. The entry is added by unpacking the model with the flatbuffer
object API and packing it again, as TensorFlow's own converter does when it
adds its ``CONVERSION_METADATA`` entry.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

from gantool.errors import ConversionError, first_line
from gantool.export.registry import Quantization
from gantool.export.validate import ExportResult, ParityError, calibration_latents, check_parity, model_inputs
from gantool.runtime.contract import METADATA_KEY, ModelContract
from gantool.runtime.files import atomic_path

# BuiltinOperator.CUSTOM in the TFLite schema: Flex ops are custom ops named "Flex...".
CUSTOM_OPCODE = 32
# The static batch of exported models (see the module docstring).
EXPORT_BATCH = 1
# TFLite op types int8 leaves in float when fully integer misses its bound (see the module docstring):
# the latent projection, and the ops of a digit code's one-hot (TrainConfig.code_onehot), whose
# comparison on an int8 latent would call near-ties ties and draw the wrong digit.
INT8_FLOAT_OPS = ("FULLY_CONNECTED", "STRIDED_SLICE", "REDUCE_MAX", "GREATER_EQUAL", "CAST", "CONCATENATION")


def static_batch_model(keras_model, contract: ModelContract, batch: int = EXPORT_BATCH):
    """``keras_model`` behind an input of static batch ``batch``, in inference mode."""
    import keras

    z = keras.Input((contract.latent_dim,), batch_size=batch, name=contract.input_name)
    if contract.conditional:
        label = keras.Input((), batch_size=batch, dtype="int32", name=contract.label_name)
        return keras.Model([z, label], keras_model([z, label], training=False), name=f"{keras_model.name}_static")
    return keras.Model(z, keras_model(z, training=False), name=f"{keras_model.name}_static")


def to_tflite_bytes(keras_model, contract: ModelContract, quantize: Quantization, calibration_size: int = 0,
                    float_ops: tuple[str, ...] = ()) -> bytes:
    """Convert ``keras_model`` to a TFLite flatbuffer in the given quantization mode (int8: with the
    TFLite op types ``float_ops`` left in float).

    Raises:
        ConversionError: the converter failed.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(static_batch_model(keras_model, contract))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize is not Quantization.none:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize is Quantization.fp16:
        converter.target_spec.supported_types = [tf.float16]
    elif quantize is Quantization.int8:
        z, labels = model_inputs(calibration_latents(contract.latent_dim, calibration_size), contract.num_classes)

        def representative():
            for i in range(0, len(z), EXPORT_BATCH):
                yield [z[i : i + EXPORT_BATCH]] + ([] if labels is None else [labels[i : i + EXPORT_BATCH]])

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    try:
        # from_keras_model saves a temporary SavedModel and print()s its endpoints;
        # int8 conversion warns that the (float) input has no statistics, by design.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            if quantize is Quantization.int8 and float_ops:
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=representative,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(float_ops)))
                return bytes(debugger.get_nondebug_quantized_model())
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError...
        raise ConversionError(f"TFLite conversion ({quantize.value}) failed: {first_line(exc)}") from None


def builtin_ops(model_bytes: bytes) -> set[str]:
    """Names of the builtin operator types a TFLite model uses (e.g. ``FULLY_CONNECTED``)."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    model = schema.Model.GetRootAs(model_bytes, 0)
    codes = (model.OperatorCodes(index) for index in range(model.OperatorCodesLength()))
    return {names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "") for code in codes}


def custom_ops(model_bytes: bytes) -> list[str]:
    """Names of the custom (incl. Flex / SELECT_TF_OPS) operators in a TFLite model."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(model_bytes, 0)
    names = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == CUSTOM_OPCODE or code.CustomCode():
            names.append((code.CustomCode() or b"custom").decode("utf-8", "replace"))
    return names


def check_builtin_only(model_bytes: bytes) -> None:
    """Refuse a model that needs Flex (TensorFlow) or other custom kernels at run time.

    Raises:
        ConversionError: naming the offending operators.
    """
    names = custom_ops(model_bytes)
    if names:
        raise ConversionError(
            f"the TFLite model needs non-builtin ops {sorted(set(names))} (Flex/SELECT_TF_OPS), "
            "which the runtime cannot run; change the generator to use builtin layers"
        )


def embed_metadata(model_bytes: bytes, name: str, payload: bytes) -> bytes:
    """Return ``model_bytes`` with metadata entry ``name`` set to ``payload`` (replacing one of that name)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    model.metadata = [entry for entry in (model.metadata or []) if entry.name != name.encode()]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    return flatbuffer_utils.convert_object_to_bytearray(model)


def tflite_runner(path: Path):
    """A function running the TFLite file at ``path`` through the runtime's backend."""
    from gantool.runtime.backends.tflite_backend import TFLiteBackend

    return TFLiteBackend(path).run


def export_tflite(keras_model, contract: ModelContract, out: Path, quantize: Quantization,
                  max_abs: float, mean_abs: float | None = None, calibration_size: int = 0) -> ExportResult:
    """Convert, embed the contract, write atomically and check parity against Keras.

    The file appears at ``out`` only if every check passed.

    Raises:
        ConversionError: conversion failed or the model needs Flex/custom ops.
        ExportValidationError: parity with the Keras model breached the bound.
        MissingExtraError: ai-edge-litert (needed to validate) is not installed.
    """
    def write_checked(float_ops: tuple[str, ...]) -> ExportResult:
        model_bytes = to_tflite_bytes(keras_model, contract, quantize, calibration_size, float_ops)
        check_builtin_only(model_bytes)
        present = builtin_ops(model_bytes)
        float_ops = tuple(op for op in float_ops if op in present)  # what this model has of them
        file_contract = contract.replace(quantization=quantize.value, calibration_size=calibration_size,
                                         float_ops=float_ops)
        model_bytes = embed_metadata(model_bytes, METADATA_KEY, file_contract.to_json().encode("utf-8"))
        with atomic_path(out) as tmp:
            tmp.write_bytes(model_bytes)
            parity = check_parity(keras_model, tflite_runner(tmp), contract.latent_dim, contract.value_range,
                                  max_abs, mean_abs, num_classes=contract.num_classes)
        return ExportResult(out, parity, float_ops=float_ops, calibration_size=calibration_size)

    try:
        return write_checked(())
    except ParityError as exc:
        if quantize is not Quantization.int8:
            raise
        fully_integer = exc.parity
    try:
        return write_checked(INT8_FLOAT_OPS)
    except ParityError as exc:
        raise ParityError(f"{exc} (fully integer: max |Δ| {fully_integer.max_abs:.3g}, "
                          f"mean |Δ| {fully_integer.mean_abs:.3g})", exc.parity) from None


def convert(keras_model, contract: ModelContract, out: Path, entry, options) -> ExportResult:
    """Registry converter for every ``tflite/*`` entry (see :mod:`gantool.export.registry`)."""
    return export_tflite(keras_model, contract, out, entry.quantize, entry.tolerance.max_abs,
                         entry.tolerance.mean_abs, entry.calibration_size(options))
