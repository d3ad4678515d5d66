"""Make tests/data/tiny_generator.onnx (and .tflite): a small latent->image model for TensorFlow-free tests.

Usage: python scripts/make_test_model.py tests/data/tiny_generator.onnx

Writes the ONNX file given and, beside it, the same model as a float32 .tflite.

A plain Keras Sequential (Dense 8 -> 784, tanh, reshaped to 28x28x1) with
fixed-seed weights, exported through `gantool export` like any foreign Keras
generator, so the committed file carries a real gantool contract while
weighing ~30 KB (the DCGAN is 9 MB). CI samples it in a venv without TensorFlow.
"""

import subprocess
import sys
import tempfile
from pathlib import Path


def main(target: str) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,), name="z"), keras.layers.Dense(784, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
    )
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tiny.keras"
        model.save(source)
        subprocess.run(
            ["gantool", "export", "--format", "onnx", "--model", str(source), "--out", target], check=True
        )
        subprocess.run(
            ["gantool", "export", "--format", "tflite", "--model", str(source),
             "--out", str(Path(target).with_suffix(".tflite"))], check=True,
        )


if __name__ == "__main__":
    main(sys.argv[1])
