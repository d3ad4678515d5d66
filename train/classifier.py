"""Train the MNIST classifier that judges generated digits, and export it to ONNX.

One command reproduces the shipped files (``runtime/assets/classifier.onnx``
and ``classifier_stats.npz``)::

    gantool train-classifier --data mnist.npz --out runtime/assets

The network is a small CNN (about 200k weights, ~10 MMAC per image, so that
judging 10,000 digits takes seconds on a CPU)::

    image (28,28,1) in [-1,1]
    -> Conv3x3 32 -> BN -> ReLU -> Conv3x3 32 -> BN -> ReLU -> MaxPool2   (valid padding)
    -> Conv3x3 64 -> BN -> ReLU -> Conv3x3 64 -> BN -> ReLU -> MaxPool2
    -> Flatten -> Dropout -> Dense 128 -> BN -> ReLU = features -> Dropout -> Dense 10 = logits

Training: Adam with cosine decay, cross-entropy on logits (no label smoothing:
it would cap the classifier's confidence and with it the MNIST score of real
digits), random shifts of up to 2 pixels. The test set is only used to report
accuracy after training, never to choose anything during it.

The training and the ONNX export take any two-output model of this kind: a classifier of your own
images (:mod:`gantool.train.classifier_images`) is trained and written by the same functions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gantool import __version__
from gantool.errors import ExportValidationError, GantoolError
from gantool.export.registry import DEFAULT_OPSET
from gantool.runtime.classifier import (
    IMAGE_SHAPE,
    INPUT_NAME,
    META_PREFIX,
    NUM_CLASSES,
    OUTPUT_NAMES,
    input_convention,
    to_classifier_input,
)

ONNX_OPSET = DEFAULT_OPSET  # the exports' opset: one home in the registry
PARITY_IMAGES = 256
PARITY_MAX_ABS = 1e-3


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """The classifier's training recipe (saved in the ONNX metadata).

    Args:
        epochs: passes over the 60,000 training digits.
        batch_size: digits per step.
        lr: peak Adam learning rate, decayed to 0 by a cosine over all steps.
        seed: seeds weights, shuffling, shifts and dropout.
        max_shift: largest random translation (pixels) applied to training digits.
        feature_dim: width of the penultimate (feature) layer.
        dropout: dropout rate before and after the feature layer.
        flip: also mirror training images left to right at random (for photos; never for digits).
    """

    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    max_shift: int = 2
    feature_dim: int = 128
    dropout: float = 0.3
    flip: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "feature_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise GantoolError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        if not 0 <= self.max_shift <= 4:
            raise GantoolError(f"`max_shift` must be between 0 and 4 pixels, got {self.max_shift}")
        if not 0.0 <= self.dropout < 1.0:
            raise GantoolError(f"`dropout` must be in [0, 1), got {self.dropout}")
        if not self.lr > 0:
            raise GantoolError(f"`lr` must be positive, got {self.lr}")


@dataclasses.dataclass(frozen=True)
class TrainedClassifier:
    """A trained classifier: the two-output Keras model and how it did."""

    model: object
    accuracy: float
    test_errors: int
    seconds: float
    config: ClassifierConfig


def build_classifier(config: ClassifierConfig, image_shape: tuple[int, int, int] = IMAGE_SHAPE,
                     num_classes: int = NUM_CLASSES):
    """The two-output Keras model ``image -> (logits, features)`` (see module docstring): MNIST's by default,
    the same layers for other 28x28 images (``image_shape``) and class counts."""
    import keras
    from keras import layers

    image = keras.Input(shape=tuple(image_shape), name=INPUT_NAME)
    x = image
    for index, filters in enumerate((32, 32, 64, 64)):
        x = layers.Conv2D(filters, 3, use_bias=False, name=f"conv{index + 1}")(x)
        x = layers.BatchNormalization(name=f"conv{index + 1}_bn")(x)
        x = layers.ReLU(name=f"conv{index + 1}_relu")(x)
        if index % 2 == 1:
            x = layers.MaxPooling2D(2, name=f"pool{index // 2 + 1}")(x)
    mnist = (tuple(image_shape), num_classes) == (IMAGE_SHAPE, NUM_CLASSES)
    return classifier_head(image, x, config, num_classes, "mnist_classifier" if mnist else "classifier")


def classifier_head(image, x, config: ClassifierConfig, num_classes: int, name: str = "classifier"):
    """The model from ``image`` whose convolutions end in ``x``: flatten, dropout, the ``features`` layer
    (Dense + BatchNorm + ReLU, what FID reads) and the ``logits``, shared by every classifier gantool trains."""
    import keras
    from keras import layers

    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(config.dropout, name="flatten_drop")(x)
    x = layers.Dense(config.feature_dim, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    features = layers.ReLU(name="features")(x)
    x = layers.Dropout(config.dropout, name="features_drop")(features)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(image, {"logits": logits, "features": features}, name=name)


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image by its own random offset in [-max_shift, max_shift], filling with -1."""
    if max_shift == 0:
        return images
    count, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
    rows = rng.integers(0, 2 * max_shift + 1, count)[:, None] + np.arange(height)
    cols = rng.integers(0, 2 * max_shift + 1, count)[:, None] + np.arange(width)
    return padded[np.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :]]


def flip_images(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror a random half of ``images`` (NHWC) left to right."""
    flipped = rng.random(len(images)) < 0.5
    out = images.copy()
    out[flipped] = out[flipped, :, ::-1]
    return out


def train_classifier(x_train, y_train, x_test, y_test, config: ClassifierConfig,
                     log: Callable[[str], None] = print, build: Callable | None = None) -> TrainedClassifier:
    """Train on uint8 images ``x_train`` (digits by default), report accuracy on ``x_test``.

    Args:
        build: ``build(config)`` -> the two-output model to train; default :func:`build_classifier`
            (MNIST's). The images must have its input's shape.

    Returns:
        The trained two-output model with its test accuracy and wall time.
    """
    import keras

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = (build or build_classifier)(config)
    shape = tuple(model.input_shape[1:])
    train_inputs, test_inputs = to_classifier_input(x_train, image_shape=shape), to_classifier_input(x_test, image_shape=shape)
    labels = np.asarray(y_train, dtype=np.int32)
    steps = config.epochs * (len(train_inputs) // config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=steps)
    trainer = keras.Model(model.input, model.output["logits"])
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = rng.permutation(len(train_inputs))[: (len(train_inputs) // config.batch_size) * config.batch_size]
        shifted = shift_images(train_inputs[order], config.max_shift, rng)
        if config.flip:
            shifted = flip_images(shifted, rng)
        history = trainer.fit(shifted, labels[order], batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
        log(f"epoch {epoch + 1}/{config.epochs}: loss {history.history['loss'][-1]:.4f} "
            f"train acc {history.history['accuracy'][-1]:.4f} ({time.perf_counter() - start:.0f} s)")
    seconds = time.perf_counter() - start
    predicted = np.argmax(trainer.predict(test_inputs, batch_size=1000, verbose=0), axis=1)
    errors = int(np.sum(predicted != np.asarray(y_test)))
    accuracy = 1.0 - errors / len(y_test)
    log(f"test accuracy {accuracy:.4f} ({errors} errors in {len(y_test)}), trained in {seconds:.0f} s")
    return TrainedClassifier(model=model, accuracy=accuracy, test_errors=errors, seconds=seconds, config=config)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def classifier_metadata(trained: TrainedClassifier, data_sha256: str, command: str) -> dict[str, str]:
    """The ``metadata_props`` written into the classifier's ONNX file (values are JSON or text)."""
    shape = tuple(trained.model.input_shape[1:])
    classes, features = (trained.model.output[name].shape[-1] for name in ("logits", "features"))
    return {
        f"{META_PREFIX}accuracy": json.dumps(round(trained.accuracy, 6)),
        f"{META_PREFIX}test_errors": json.dumps(trained.test_errors),
        f"{META_PREFIX}recipe": json.dumps(dataclasses.asdict(trained.config), sort_keys=True),
        f"{META_PREFIX}command": command,
        f"{META_PREFIX}train_seconds": json.dumps(round(trained.seconds, 1)),
        f"{META_PREFIX}data_sha256": data_sha256,
        f"{META_PREFIX}input_convention": input_convention(shape),
        f"{META_PREFIX}outputs": f"logits: (batch, {classes}) pre-softmax; features: (batch, {features}) "
                                 "penultimate layer after ReLU",
        "gantool.version": __version__,
    }


def to_onnx_proto(model, metadata: dict[str, str], opset: int = ONNX_OPSET):
    """Convert the two-output Keras model to ONNX with input ``image``, outputs ``logits`` and ``features``."""
    import tensorflow as tf
    import tf2onnx

    from gantool.export.canonical import set_metadata

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=signature)
    def judge(image):
        outputs = model(image, training=False)
        return {name: outputs[name] for name in OUTPUT_NAMES}

    proto, _ = tf2onnx.convert.from_function(judge, input_signature=signature, opset=opset)
    _name_outputs(proto, model.output["logits"].shape[-1])
    proto.graph.input[0].name = INPUT_NAME
    set_metadata(proto, metadata)
    proto.producer_name = "gantool"
    return proto


def _name_outputs(proto, classes: int) -> None:
    """Rename the graph's outputs to ``logits`` / ``features``, telling them apart by width (by their order,
    the dictionary's sorted keys, when the widths are equal)."""
    graph = proto.graph
    old_input = graph.input[0].name
    renames = {old_input: INPUT_NAME}
    widths = [output.type.tensor_type.shape.dim[-1].dim_value for output in graph.output]
    for index, (output, width) in enumerate(zip(graph.output, widths, strict=True)):
        by_order = ("features", "logits")[index] if index < 2 else "?"
        renames[output.name] = by_order if len(set(widths)) == 1 else "logits" if width == classes else "features"
    if sorted(renames.values()) != sorted((INPUT_NAME, *OUTPUT_NAMES)):
        raise GantoolError(f"unexpected classifier graph outputs: {[o.name for o in graph.output]}")
    from gantool.export.onnx_graph import rename_io

    rename_io(proto, renames)


def export_classifier(trained: TrainedClassifier, out: Path, metadata: dict[str, str], x_check: np.ndarray) -> float:
    """Write the ONNX classifier atomically after checking it against Keras on ``x_check``.

    Returns:
        The largest absolute difference of logits and features between ONNX and Keras.

    Raises:
        ExportValidationError: the checker rejected the graph or the outputs differ by more than 1e-3.
    """
    from gantool.export.keras_to_onnx import write_checked
    from gantool.runtime.classifier import Classifier

    proto = to_onnx_proto(trained.model, metadata)
    inputs = to_classifier_input(x_check[:PARITY_IMAGES], image_shape=tuple(trained.model.input_shape[1:]))
    expected = trained.model(inputs, training=False)

    def parity(tmp: Path) -> float:
        logits, features = Classifier.load(tmp).run(inputs)
        max_abs = max(float(np.max(np.abs(logits - np.asarray(expected["logits"])))),
                      float(np.max(np.abs(features - np.asarray(expected["features"])))))
        if max_abs > PARITY_MAX_ABS:
            raise ExportValidationError(f"ONNX classifier differs from Keras by {max_abs:.3g} (bound {PARITY_MAX_ABS})",
                                        max_abs_diff=max_abs)
        return max_abs

    return write_checked(proto, out, parity, what="classifier")


def data_sha256(data: str | Path | None) -> str:
    """SHA-256 of the training data: of the file for an ``.npz``; of the four arrays for an IDX folder or
    Keras' download. ``data`` None: the MNIST :func:`gantool.judge.mnist.load_mnist` finds."""
    from gantool.judge.mnist import load_mnist, resolve_source

    path = resolve_source(data)
    if path is not None and path.is_file():
        return sha256_file(path)
    mnist = load_mnist(path)
    digest = hashlib.sha256()
    for array in (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return "arrays:" + digest.hexdigest()


def make_classifier_assets(data: str | Path | None, out_dir: Path, config: ClassifierConfig,
                           log: Callable[[str], None] = print) -> tuple[Path, Path, TrainedClassifier]:
    """Train, export and compute reference statistics: the one command behind the shipped files.

    Writes ``out_dir/classifier.onnx`` and ``out_dir/classifier_stats.npz``; both
    are made in a temporary folder (outside the repository) first, so a failure
    leaves the old pair intact.

    Returns:
        The two paths and the trained classifier.
    """
    import tempfile

    from gantool.judge.floor import build_reference
    from gantool.judge.mnist import load_mnist
    from gantool.judge.reference import STATS_NAME
    from gantool.runtime.classifier import CLASSIFIER_NAME, Classifier
    from gantool.runtime.files import check_output_path, write_bytes_atomic

    if out_dir.exists() and not out_dir.is_dir():
        raise GantoolError(f"`out` {out_dir} is a file; pass a folder for classifier.onnx and classifier_stats.npz")
    if not out_dir.is_dir():
        raise GantoolError(f"`out` {out_dir} is not a folder; create it first (mkdir -p {out_dir})")
    for name in (CLASSIFIER_NAME, STATS_NAME):  # before minutes of training, not after
        check_output_path(out_dir / name)
    mnist = load_mnist(data)
    trained = train_classifier(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, config, log)
    command = (f"gantool train-classifier --data mnist.npz --epochs {config.epochs} --batch-size {config.batch_size} "
               f"--lr {config.lr} --seed {config.seed}")
    metadata = classifier_metadata(trained, data_sha256(data), command)
    with tempfile.TemporaryDirectory(prefix="gantool-classifier-") as tmp:
        onnx_path = Path(tmp) / CLASSIFIER_NAME
        max_abs = export_classifier(trained, onnx_path, metadata, mnist.x_test)
        log(f"exported {onnx_path.stat().st_size / 1e6:.2f} MB ONNX, max |Δ| vs Keras {max_abs:.2e}")
        stats = build_reference(Classifier.load(onnx_path), mnist.x_train, mnist.x_test, mnist.y_test,
                                classifier_sha256=sha256_file(onnx_path), log=log)
        stats.save(Path(tmp) / STATS_NAME)
        for name in (CLASSIFIER_NAME, STATS_NAME):
            write_bytes_atomic(out_dir / name, (Path(tmp) / name).read_bytes())
    return out_dir / CLASSIFIER_NAME, out_dir / STATS_NAME, trained
