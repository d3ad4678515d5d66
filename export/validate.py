"""Parity between an exported model and its Keras source, on fixed latents.

The reference is the Keras model evaluated in float64 (:func:`exact_model`: the
same layers and weights, float64 compute), i.e. the function the weights
define, not one float32 evaluation of it. TensorFlow's own float32 kernels
are not a reference at the float32 bound: their rounding error on a trained
generator can exceed it, so an export closer to the exact function than
TensorFlow would fail a float32 comparison.
``research/float32_error.py`` measures this for any model and export.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from gantool.errors import ExportValidationError
from gantool.runtime.contract import default_labels, latents

PARITY_SEED = 1234
PARITY_BATCHES = (1, 64)
# Quantized exports calibrate on latents of another seed, so parity is never
# measured on the very latents the quantizer saw.
CALIBRATION_SEED = 4321


@dataclasses.dataclass(frozen=True)
class Parity:
    """Errors of a candidate output against the reference, over all checked batches."""

    max_abs: float
    mean_abs: float
    psnr_db: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What a converter learned while writing and checking one file, so nobody reopens it to find out.

    Args:
        path: the file written.
        parity: its errors against the Keras model on the parity latents.
        graph: an ONNX file's graph kind (``plain``, ``optimized``, ``optimized+fourier``); "" otherwise.
        float_ops: operator types a quantized export left in float.
        calibration_size: latents that calibrated the export (0: not calibrated).
        graph_choice: how an ONNX float graph was chosen (:class:`gantool.export.graph_choice.GraphChoice`).
        session: the onnxruntime settings an ONNX file asks for (:func:`gantool.export.graph_rules.session_settings`).
    """

    path: Path
    parity: Parity
    graph: str = ""
    float_ops: tuple[str, ...] = ()
    calibration_size: int = 0
    graph_choice: dict | None = None
    session: dict | None = None

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def compare(reference: np.ndarray, candidate: np.ndarray, value_range: tuple[float, float]) -> Parity:
    """Max and mean |Δ| and PSNR (peak = the value range's width)."""
    if reference.shape != candidate.shape:
        raise ExportValidationError(f"output shape {candidate.shape} differs from the Keras model's {reference.shape}")
    diff = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    if not np.all(np.isfinite(candidate)):
        raise ExportValidationError("the exported model produced NaN or infinite values", max_abs_diff=math.inf)
    mse = float(np.mean(diff**2))
    peak = value_range[1] - value_range[0]
    psnr = math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)
    return Parity(max_abs=float(diff.max()), mean_abs=float(diff.mean()), psnr_db=psnr)


class ParityError(ExportValidationError):
    """A parity bound was breached; :attr:`parity` holds what was measured."""

    def __init__(self, message: str, parity: Parity) -> None:
        super().__init__(message, max_abs_diff=parity.max_abs)
        self.parity = parity


def parity_latents(latent_dim: int, batches=PARITY_BATCHES) -> list[np.ndarray]:
    return [latents(batch, latent_dim, PARITY_SEED + batch) for batch in batches]


def calibration_latents(latent_dim: int, count: int) -> np.ndarray:
    """The latents quantized exports calibrate on (documented convention, :data:`CALIBRATION_SEED`)."""
    return latents(count, latent_dim, CALIBRATION_SEED)


def model_inputs(z: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(z, labels)`` for a batch: a conditional model gets the convention's labels (every class in turn)."""
    return z, (default_labels(len(z), num_classes) if num_classes else None)


def exact_model(keras_model):
    """A float64 copy of ``keras_model`` (same layers and weights): the parity reference.

    A model whose layers cannot be rebuilt from their config (a custom layer without
    ``from_config``) is returned as it is, so its exports are compared in float32.
    """
    import keras

    def to_float64(layer):
        config = layer.get_config()
        config["dtype"] = "float64"
        return layer.__class__.from_config(config)

    try:
        clone = keras.models.clone_model(keras_model, clone_function=to_float64)
        clone.set_weights([np.asarray(w, dtype=np.float64) for w in keras_model.get_weights()])
    except (TypeError, ValueError, NotImplementedError):
        return keras_model
    return clone


def reference_outputs(keras_model, inputs) -> np.ndarray:
    """The Keras model's output for ``inputs`` (``z`` or ``[z, labels]``), computed in float64."""
    return np.asarray(exact_model(keras_model)(inputs, training=False), dtype=np.float64)


def reference_batches(keras_model, latent_dim: int, batches=PARITY_BATCHES, num_classes: int = 0) -> list[np.ndarray]:
    """The float64 reference (:func:`exact_model`) on the parity latents (and labels) of each batch size."""
    exact = exact_model(keras_model)
    outputs = []
    for z in parity_latents(latent_dim, batches):
        z, labels = model_inputs(z, num_classes)
        outputs.append(np.asarray(exact(z if labels is None else [z, labels], training=False), dtype=np.float64))
    return outputs


def check_parity(keras_model, run_candidate, latent_dim: int, value_range, max_abs: float,
                 mean_abs: float | None = None, batches=PARITY_BATCHES, num_classes: int = 0,
                 reference: list[np.ndarray] | None = None) -> Parity:
    """Run the float64 reference (:func:`exact_model`; ``reference`` when already computed by
    :func:`reference_batches`) and the candidate on fixed latents (and labels, when conditional) at
    each batch size; raise if a bound is breached."""
    if reference is None:
        reference = reference_batches(keras_model, latent_dim, batches, num_classes)
    candidate = []
    for z in parity_latents(latent_dim, batches):
        z, labels = model_inputs(z, num_classes)
        out = run_candidate(z) if labels is None else run_candidate(z, labels)
        candidate.append(np.asarray(out, dtype=np.float32))
    parity = compare(np.concatenate(reference), np.concatenate(candidate), value_range)
    if parity.max_abs > max_abs or (mean_abs is not None and parity.mean_abs > mean_abs):
        bound = f"max |Δ| ≤ {max_abs:g}" + (f", mean |Δ| ≤ {mean_abs:g}" if mean_abs is not None else "")
        raise ParityError(
            f"export differs from the Keras model: max |Δ| {parity.max_abs:.3g}, mean |Δ| {parity.mean_abs:.3g} "
            f"(bound {bound}); nothing was written", parity,
        )
    return parity
