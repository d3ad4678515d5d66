"""How far TensorFlow's float32 run and an ONNX export are from the Keras model computed in float64.

Usage (with the train extra installed):
    python research/float32_error.py MODEL.keras EXPORT.onnx

Prints, for the parity latents (batch 1 and 64, gantool.export.validate), the max |Δ| of
TensorFlow's float32 output, of the ONNX export, and between the two, each against the float64
reference that export parity uses (gantool.export.validate.exact_model). Set
TF_ENABLE_ONEDNN_OPTS=0 to see TensorFlow without its oneDNN kernels. Not a test: it only measures.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    import keras

    from gantool.export.validate import exact_model, parity_latents
    from gantool.runtime import Generator

    model = keras.saving.load_model(sys.argv[1], safe_mode=True, compile=False)
    exact = exact_model(model)
    export = Generator.load(sys.argv[2])
    print(f"oneDNN: {os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default (on)')}")
    for z in parity_latents(export.contract.latent_dim):
        reference = np.asarray(exact(z, training=False), dtype=np.float64)
        tf32 = np.asarray(model(z, training=False), dtype=np.float64)
        onnx32 = export.generate(z).astype(np.float64)
        print(f"batch {len(z):3d}: TF float32 vs float64 {np.abs(tf32 - reference).max():.2e}   "
              f"export vs float64 {np.abs(onnx32 - reference).max():.2e}   "
              f"export vs TF float32 {np.abs(onnx32 - tf32).max():.2e}")


if __name__ == "__main__":
    main()
