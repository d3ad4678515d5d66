"""The multiply-add rate LiteRT (XNNPACK) reaches on one large fully connected layer, float32 and int8.

Usage: python benchmarks/tflite_gemm_peak.py [--threads 2] [--size 2048] [--batch 256] [--repeats 15]

A ``[batch, size] @ [size, size]`` Dense layer is converted twice with the
TFLite converter, as float32 and as fully integer int8 (weights and
activations, calibrated on random inputs), and each is timed in
``ai-edge-litert``. Large square GEMMs are where a CPU gets closest to its
peak, so these figures bound what any generator layer can reach through the
same library; ``all_formats.py``'s images/s times the generator's
multiply-adds per image, divided by them, is its fraction of that peak.
Needs the train extra (TensorFlow for the converter). Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=2048, help="inputs and outputs of the Dense layer")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per format (median reported)")
    return parser.parse_args()


def convert(model, int8: bool, batch: int, size: int) -> bytes:
    """The layer as a .tflite flatbuffer: float32, or fully integer int8."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.standard_normal((batch, size), dtype=np.float32)]
                                                    for _ in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def median_seconds(blob: bytes, threads: int, repeats: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=blob, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.ones(detail["shape"], detail["dtype"]))
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    import keras

    inputs = keras.Input((args.size,), batch_size=args.batch)
    model = keras.Model(inputs, keras.layers.Dense(args.size, use_bias=False)(inputs))
    macs = args.batch * args.size * args.size
    print(f"LiteRT (XNNPACK), {args.threads} threads: [{args.batch}, {args.size}] @ [{args.size}, {args.size}], "
          f"median of {args.repeats}")
    for name, int8 in (("float32", False), ("int8", True)):
        seconds = median_seconds(convert(model, int8, args.batch, args.size), args.threads, args.repeats)
        print(f"{name:>8}: {seconds * 1e3:8.2f} ms  {macs / seconds / 1e9:6.0f} G multiply-adds/s")


if __name__ == "__main__":
    main()
