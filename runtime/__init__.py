"""The light runtime: sample digits from an exported generator.

Imports only numpy, onnxruntime and Pillow (and ai-edge-litert for a
``.tflite``); never TensorFlow. Typical use::

    from gantool.runtime import Generator
    digits = Generator.load("g.onnx").sample(count=64, seed=0)  # uint8 (64, 28, 28, 1)
"""

from gantool.runtime.contract import LATENT_CONVENTION, ModelContract, latents
from gantool.runtime.generator import Generator

__all__ = ["Generator", "ModelContract", "LATENT_CONVENTION", "latents"]
