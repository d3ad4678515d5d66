"""Where training runs and what that switches on: XLA, a mixed-precision policy, loss scaling.

On a GPU the train step compiles with XLA and ``mixed_precision`` means float16 with a
loss-scaled optimizer; on a CPU the step runs as a plain ``tf.function`` (op determinism on)
and ``mixed_precision`` means bfloat16, which needs no loss scaling. :func:`gpu_paths`
switches the GPU choices on wherever TensorFlow runs, so tests exercise them on a CPU.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Device:
    """What a training run uses.

    Args:
        description: one line for the log ("GPU (...)" or "CPU (n cores; ...)").
        gpu: TensorFlow sees a GPU.
        jit_compile: compile the train step with XLA.
        mixed_policy: the Keras dtype policy ``mixed_precision`` selects.
        loss_scale: wrap the optimizers in a LossScaleOptimizer (float16 gradients underflow).
        deterministic: turn on TensorFlow's op determinism (resume == uninterrupted).
    """

    description: str
    gpu: bool
    jit_compile: bool
    mixed_policy: str
    loss_scale: bool
    deterministic: bool

    def policy(self, mixed_precision: bool) -> str:
        return self.mixed_policy if mixed_precision else "float32"


def detect_device() -> Device:
    """The device TensorFlow will train on, with the choices that suit it."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return Device(f"GPU ({', '.join(g.name for g in gpus)})", True, True, "mixed_float16", True, False)
    return Device(f"CPU ({os.cpu_count()} cores; no GPU visible to TensorFlow)", False, False, "mixed_bfloat16",
                  False, True)


def gpu_paths(description: str = "CPU running the GPU code paths (XLA, float16, loss scaling)") -> Device:
    """The GPU's choices on whatever device TensorFlow has (for tests of those paths on a CPU)."""
    return Device(description, False, True, "mixed_float16", True, False)


def apply_determinism(device: Device) -> None:
    """Turn TensorFlow's op determinism on or off for ``device`` (process-wide).

    Keras silently compiles without XLA while op determinism is on, so a device that wants
    XLA turns it off again (a process that trained on the CPU path first, as the tests do).
    """
    import tensorflow as tf

    if device.deterministic:
        tf.config.experimental.enable_op_determinism()
        return
    from tensorflow.python.framework import config as tf_config  # the public API can only turn it on

    if tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()
