"""The judge's classifier, run in onnxruntime: images in, logits and features out.

The judge of every quality figure (:mod:`gantool.judge.metrics`). The shipped one is a small
CNN trained on MNIST by ``gantool train-classifier`` (see :mod:`gantool.train.classifier`) and
shipped as ``assets/classifier.onnx``; ``gantool train-classifier --data DIR`` makes one for any
folder of labeled images, of its size and channels.

Input convention: ``image`` is float32 NHWC ``(batch, height, width, channels)`` (``(batch, 28,
28, 1)`` for the shipped one) with values in [-1, 1], the range a tanh generator emits; a uint8
pixel ``p`` maps to ``p / 127.5 - 1`` (:func:`to_classifier_input`). Outputs: ``logits``
``(batch, classes)`` and ``features`` ``(batch, 128)``, the penultimate layer (after its ReLU) on
which FID and precision/recall are computed. A classifier of your own images names its classes in
its metadata (``class_names``); the shipped one's classes are the digits 0..9.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError, ModelFileError, first_line
from gantool.runtime.contract import DEFAULT_VALUE_RANGE

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

CLASSIFIER_NAME = "classifier.onnx"
INPUT_NAME = "image"
OUTPUT_NAMES = ("logits", "features")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
INPUT_CONVENTION = "image: float32 NHWC (batch, 28, 28, 1) in [-1, 1]; uint8 pixel p -> p / 127.5 - 1"
# Metadata keys written by gantool.train.classifier and read back here.
META_PREFIX = "gantool.classifier."
DEFAULT_BATCH = 500


def asset_path(name: str) -> Path:
    """Path of a file in the runtime package's ``assets`` folder (which may not exist)."""
    return Path(str(resources.files("gantool.runtime") / "assets" / name))


def input_convention(image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> str:
    """The input convention of a classifier of ``image_shape`` images, as its metadata states it."""
    if tuple(image_shape) == IMAGE_SHAPE:
        return INPUT_CONVENTION
    return INPUT_CONVENTION.replace("(batch, 28, 28, 1)", f"(batch, {', '.join(map(str, image_shape))})")


def to_classifier_input(images: np.ndarray, value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
                        image_shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Bring images to the classifier's convention: float32 ``(n, *image_shape)`` in [-1, 1].

    Args:
        images: uint8 pixels (0..255) of shape ``(n, *image_shape)`` (or ``(n, height, width)`` for
            one channel), or float images in ``value_range``.
        value_range: the range of float inputs (ignored for uint8).
        image_shape: the classifier's ``(height, width, channels)``; MNIST's by default.

    Raises:
        GantoolError: the array is not a batch of such images, or holds NaN/inf.
    """
    array = np.asarray(images)
    image_shape = tuple(image_shape)
    if array.ndim == 3 and image_shape[-1] == 1:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != image_shape:
        if image_shape == IMAGE_SHAPE:
            raise GantoolError(f"the classifier judges 28x28 grey digits (n, 28, 28, 1); got shape {array.shape}")
        raise GantoolError(f"the classifier judges {describe_shape(image_shape)} images "
                           f"(n, {', '.join(map(str, image_shape))}); got shape {array.shape}")
    if array.dtype == np.uint8:
        return (array.astype(np.float32) / np.float32(127.5)) - np.float32(1.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise GantoolError(f"images must be uint8 pixels or floats in {value_range}, got dtype {array.dtype}")
    low, high = (float(v) for v in value_range)
    out = array.astype(np.float32)
    if (low, high) != DEFAULT_VALUE_RANGE:  # the classifier's input range is the tanh range
        out = (out - np.float32(low)) * np.float32(2.0 / (high - low)) - np.float32(1.0)
    if not np.all(np.isfinite(out)):
        raise GantoolError("images hold NaN or infinite values; the model that made them is broken")
    return out


def describe_shape(image_shape) -> str:
    """``28x28x1`` for ``(28, 28, 1)``."""
    return "x".join(map(str, image_shape))


class Classifier:
    """A gantool classifier in onnxruntime (the shipped MNIST one by default).

    Attributes:
        image_shape: ``(height, width, channels)`` of the images it takes (from its graph).
        num_classes: the width of its logits.
        feature_dim: the width of its features.
        class_names: its classes' names in label order (metadata); empty for the shipped digit
            classifier, whose classes are the digits 0..9.

    Example:
        >>> clf = Classifier.load()
        >>> logits, features = clf.run(to_classifier_input(x_test[:8]))
        >>> logits.shape, features.shape
        ((8, 10), (8, 128))
    """

    def __init__(self, session, path: Path) -> None:
        self.session = session
        self.path = path
        self.metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
        widths = {output.name: output.shape[-1] for output in session.get_outputs()}
        self.feature_dim = int(widths["features"])
        self.num_classes = int(widths["logits"]) if isinstance(widths["logits"], int) else NUM_CLASSES
        dims = tuple(session.get_inputs()[0].shape[1:])
        self.image_shape = dims if len(dims) == 3 and all(isinstance(d, int) for d in dims) else IMAGE_SHAPE
        names = self.info().get("class_names", [])
        self.class_names = tuple(str(name) for name in names) if isinstance(names, list) else ()

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int | None = None) -> Classifier:
        """Open ``path``, or the classifier bundled with the runtime when None.

        Raises:
            ModelFileError: the file is missing or not this classifier's graph.
        """
        from gantool.runtime.backends.onnx_backend import session_options

        model = Path(path) if path is not None else asset_path(CLASSIFIER_NAME)
        if not model.is_file() and path is not None:
            raise ModelFileError(f"`classifier` {model} does not exist; make one for your images with "
                                 "`gantool train-classifier --data DIR --out FOLDER` (it writes FOLDER/classifier.onnx)")
        if not model.is_file():
            raise ModelFileError(
                f"classifier {model} does not exist; reinstall gantool or rebuild it with "
                "`gantool train-classifier --data mnist.npz --out runtime/assets`"
            )
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(str(model), sess_options=session_options(threads),
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several private exception types
            raise ModelFileError(f"{model} is not a loadable ONNX classifier ({first_line(exc)})") from None
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        if inputs != [INPUT_NAME] or sorted(outputs) != sorted(OUTPUT_NAMES):
            raise ModelFileError(f"{model} is not a gantool classifier: inputs {inputs}, outputs {outputs}; "
                                 f"expected {[INPUT_NAME]} -> {list(OUTPUT_NAMES)}")
        return cls(session, model)

    @property
    def bundled(self) -> bool:
        """True for the classifier shipped with the runtime (the MNIST digit classifier)."""
        return self.path.resolve() == asset_path(CLASSIFIER_NAME).resolve()

    def info(self) -> dict:
        """The classifier's metadata (accuracy, recipe, data hash...) with JSON values decoded."""
        out = {}
        for key, value in self.metadata.items():
            name = key[len(META_PREFIX):] if key.startswith(META_PREFIX) else key
            try:
                out[name] = json.loads(value)
            except json.JSONDecodeError:
                out[name] = value
        return out

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One batch in the input convention -> (logits ``(n, num_classes)``, features ``(n, feature_dim)``)."""
        feed = {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)}
        logits, features = self.session.run(list(OUTPUT_NAMES), feed)
        return logits, features

    def predict(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH) -> tuple[np.ndarray, np.ndarray]:
        """Logits and features of any number of images, in batches of ``batch_size``.

        Args:
            images: anything :func:`to_classifier_input` accepts for :attr:`image_shape` (uint8 or [-1, 1] floats).
        """
        array = np.asarray(images)
        logits = np.empty((len(array), self.num_classes), dtype=np.float32)
        features = np.empty((len(array), self.feature_dim), dtype=np.float32)
        for start in range(0, len(array), batch_size):
            stop = start + batch_size
            logits[start:stop], features[start:stop] = self.run(
                to_classifier_input(array[start:stop], image_shape=self.image_shape))
        return logits, features


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
