"""Every export format x quantization mode gantool supports, in one table.

The command line (choices, validation, help), the exporters (file names,
tolerance bounds) and the benchmark all read :data:`REGISTRY`; nothing else
lists formats. Importing this module is cheap: converters are named by
``module:function`` and imported only when an export runs.

Every converter has the same signature::

    convert(keras_model, contract, out: Path, entry: FormatEntry, options: ExportOptions) -> ExportResult

It writes ``out`` atomically, checks the file against the Keras model within
``entry.tolerance``, and returns what it learned (:class:`gantool.export.validate.ExportResult`:
parity, graph kind, what stayed float); it raises
:class:`~gantool.errors.ExportValidationError` (leaving no file) when a bound is breached.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
from collections.abc import Callable

from gantool.errors import GantoolError, UnsupportedFormatError
from gantool.runtime.backends import suffix_for

DEFAULT_CALIBRATION_SIZE = 256
# The ONNX opset of every export (and of the shipped classifier); `--opset` chooses another within 13-18.
DEFAULT_OPSET = 17
# Calibration runs the float model once per latent; beyond this it only costs time.
MAX_CALIBRATION_SIZE = 65_536
# The report :func:`gantool.export.all_formats.write_report` writes beside the files of an
# export folder; ``gantool bench`` reads each file's parity from it.
REPORT_NAME = "report.json"


class ExportFormat(str, enum.Enum):
    """A file format the runtime can run."""

    onnx = "onnx"
    tflite = "tflite"


class Quantization(str, enum.Enum):
    """How weights (and, for int8, activations) are stored."""

    none = "none"
    fp16 = "fp16"
    int8 = "int8"
    dynamic = "dynamic"


class Status(str, enum.Enum):
    """What we advise about an entry; shown in help and in the export report."""

    recommended = "recommended"
    supported = "supported"
    not_recommended = "not recommended"


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Bounds on |exported - Keras| over the parity latents (batch 1 and 64).

    Args:
        max_abs: largest allowed absolute difference of any pixel.
        mean_abs: largest allowed mean absolute difference, or None for no bound.
    """

    max_abs: float
    mean_abs: float | None = None

    def describe(self) -> str:
        text = f"max |Δ| ≤ {self.max_abs:g}"
        return text if self.mean_abs is None else f"{text}, mean |Δ| ≤ {self.mean_abs:g}"


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """Options shared by every converter (each reads the ones it needs).

    Args:
        calibration_size: latents drawn (documented convention) to calibrate int8 exports.
        opset: ONNX opset of the float graph.
        graph: ONNX float32: ``auto`` (the default) writes the graph the rules of
            :mod:`gantool.export.graph_rules` name from the model's structure (no timing: the same
            model gives the same file anywhere); ``fastest-here`` times every candidate within the
            size guard on this machine and keeps the rule's choice unless another wins beyond the
            noise; a kind (``plain``, ``layerwise``, ``optimized``, ``...+fourier``) forces that graph.
        keep_graphs: also build and keep every other float ONNX graph within the guard that passed
            parity, as ``STEM.KIND.onnx`` beside the output, so ``gantool bench`` can compare them on
            the target machine.
        log: where progress lines go (timing the candidates takes seconds to minutes).
    """

    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    opset: int = DEFAULT_OPSET
    graph: str = "auto"
    keep_graphs: bool = False
    log: Callable[[str], None] | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        size = self.calibration_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_CALIBRATION_SIZE:
            raise GantoolError(
                f"`calibration_size` must be an integer between 1 and {MAX_CALIBRATION_SIZE}, got {size!r}"
            )
        from gantool.export.graph_choice import check_graph_choice  # a light import: no converter

        check_graph_choice(self.graph)


@dataclasses.dataclass(frozen=True)
class FormatEntry:
    """One supported format x quantization pair.

    Args:
        format: the file format.
        quantize: the quantization mode.
        stem: file name (without suffix) used by ``gantool export --format all``.
        tolerance: parity bound against the Keras model.
        status: recommended, supported or not recommended.
        note: one line for help and report (why the status, what it costs).
        converter: ``module:function`` that writes and validates the file.
        calibrated: whether ``calibration_size`` latents calibrate the export.
    """

    format: ExportFormat
    quantize: Quantization
    stem: str
    tolerance: Tolerance
    status: Status
    note: str
    converter: str
    calibrated: bool = False

    @property
    def key(self) -> str:
        """``format/quantize``, e.g. ``tflite/int8``."""
        return f"{self.format.value}/{self.quantize.value}"

    @property
    def suffix(self) -> str:
        """The file suffix the runtime picks its backend from (:data:`gantool.runtime.backends.FILE_KINDS`)."""
        return suffix_for(self.format.value)

    @property
    def file_name(self) -> str:
        return f"{self.stem}{self.suffix}"

    def calibration_size(self, options: ExportOptions) -> int:
        """Calibration latents this entry uses (0 when it is not calibrated)."""
        return options.calibration_size if self.calibrated else 0

    def load_converter(self) -> Callable:
        """Import and return the converter function (imports TensorFlow or onnxruntime)."""
        module_name, _, function = self.converter.partition(":")
        return getattr(importlib.import_module(module_name), function)


# Each bound has headroom over what trained generators reach on the parity latents and on
# latents the check never saw (errors grow with training; docs/ has the measurements):
# - ONNX float32 differs from the float64 reference by float32 rounding only.
# - TFLite float32 runs on XNNPACK, which sums in another order than Keras' oneDNN:
#   a looser bound, still far below one 8-bit level.
# - fp16 weights: a max bound and a mean bound.
# - int8 and dynamic: the max is an extreme of a heavy tail, so it is loose and the
#   mean bound does the checking; too few calibration latents fail it.
FP32 = Tolerance(max_abs=1e-5)
TFLITE_FP32 = Tolerance(max_abs=5e-5)
FP16 = Tolerance(max_abs=5e-3, mean_abs=2e-4)
INT8 = Tolerance(max_abs=0.75, mean_abs=0.02)
DYNAMIC = Tolerance(max_abs=0.4, mean_abs=0.01)

REGISTRY: tuple[FormatEntry, ...] = (
    FormatEntry(ExportFormat.onnx, Quantization.none, "generator_fp32", FP32, Status.recommended,
                "float32 graph for onnxruntime", "gantool.export.keras_to_onnx:convert"),
    FormatEntry(ExportFormat.onnx, Quantization.int8, "generator_int8", INT8, Status.supported,
                "static QDQ int8, per-channel weights, fully connected layer in float; two thirds of the size",
                "gantool.export.onnx_quantize:convert", calibrated=True),
    FormatEntry(ExportFormat.tflite, Quantization.none, "generator_fp32", TFLITE_FP32, Status.recommended,
                "float32 LiteRT model", "gantool.export.keras_to_tflite:convert"),
    FormatEntry(ExportFormat.tflite, Quantization.fp16, "generator_fp16", FP16, Status.supported,
                "float16 weights, float32 compute: half the size", "gantool.export.keras_to_tflite:convert"),
    FormatEntry(ExportFormat.tflite, Quantization.int8, "generator_int8", INT8, Status.supported,
                "full integer (fully connected layer in float if needed), float32 input and output",
                "gantool.export.keras_to_tflite:convert", calibrated=True),
    FormatEntry(ExportFormat.tflite, Quantization.dynamic, "generator_dynamic", DYNAMIC,
                Status.not_recommended, "int8 weights, float activations: hybrid kernels that only CPUs run (no GPU/NPU delegate)",
                "gantool.export.keras_to_tflite:convert"),
)


def supported_pairs() -> str:
    """One line listing every supported ``format/quantize`` pair."""
    return ", ".join(
        entry.key + (f" ({entry.status.value})" if entry.status is Status.not_recommended else "")
        for entry in REGISTRY
    )


def lookup(format: str | ExportFormat, quantize: str | Quantization) -> FormatEntry:
    """The entry for ``format`` and ``quantize``.

    Raises:
        UnsupportedFormatError: the pair is not in the registry.
    """
    wanted = (getattr(format, "value", format), getattr(quantize, "value", quantize))
    for entry in REGISTRY:
        if (entry.format.value, entry.quantize.value) == wanted:
            return entry
    raise UnsupportedFormatError(
        f"`format` {wanted[0]} `quantize` {wanted[1]} is not supported; supported: {supported_pairs()}"
    )


def entries_for(format: str | ExportFormat) -> tuple[FormatEntry, ...]:
    """The entries of one format, in registry order."""
    value = getattr(format, "value", format)
    return tuple(entry for entry in REGISTRY if entry.format.value == value)


def help_table() -> str:
    """A few lines for ``--help``: every pair, its bound, status and note."""
    cells = [(e.key, e.status.value, e.tolerance.describe(), e.note) for e in REGISTRY]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3] for row in cells)
