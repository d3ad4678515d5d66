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


# CPU flags (Linux /proc/cpuinfo names) of instructions that compute bfloat16 natively: AVX512-BF16
# (AMD Zen 4 and later, Intel Cooper Lake and Sapphire Rapids) and AMX-BF16 (Sapphire Rapids on).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU has bfloat16 arithmetic in hardware (a flag of :data:`BFLOAT16_FLAGS`).

    Without it TensorFlow emulates bfloat16 through float32 conversions and a bfloat16 step is
    slower than a float32 one, so a recipe's ``mixed_precision="auto"`` stays off. Read from
    ``/proc/cpuinfo``; where that does not exist (macOS, Windows) the answer is False.
    """
    try:
        text = open(cpuinfo, encoding="utf-8", errors="replace").read()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in BFLOAT16_FLAGS)


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
