"""The GPU code paths, run on a CPU: XLA-compiled train steps, float16 with loss scaling, bfloat16.

On a GPU, ``gantool train`` compiles its step with XLA and ``--mixed-precision`` means float16
with loss-scaled optimizers (:func:`gantool.train.device.detect_device`). No GPU runs these
tests, so :func:`gantool.train.device.gpu_paths` switches the same choices on here.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from gantool.train.device import detect_device, gpu_paths
from gantool.train.recipes import recipe_for

from .conftest import FIXTURE_NPZ

pytestmark = pytest.mark.slow
SMALL = dict(epochs=2, steps_per_epoch=2, batch_size=32, seed=3, mixed_precision=True, ema_decay=0.9, eval_every=0)
# "dcgan": the DCGAN with the class game (the class head on the critic, its reward on the digit the
# latent names, read as a one-hot), running balance and top-k: every optional loss term in the step.
# "dcgan-critic": the default recipe's game (the code critic: the conditional GAN's critic).
EXTRA = {"dcgan": dict(aux_weight=1.0, aux_fake_weight=1.0, aux_sharpen="code", code_onehot=True, code_critic=False,
                       aux_balance="running", top_k=0.5),
         "dcgan-critic": dict(aux_weight=0.0, aux_fake_weight=0.0, aux_sharpen="entropy", aux_balance="batch",
                              code_onehot=True, code_critic=True, top_k=0.5)}


@pytest.fixture(autouse=True)
def float32_afterwards():
    """build_gan sets Keras' global dtype policy; later tests expect float32."""
    yield
    import keras

    keras.mixed_precision.set_global_policy("float32")


def config_for(name: str, **settings):
    """The config of case ``name``: an arch, or an arch and a variant (``dcgan-critic``)."""
    return recipe_for(name.split("-")[0], None).configs({**SMALL, **EXTRA.get(name, {}), **settings})[-1]


def first_batch(config):
    from gantool.judge.mnist import load_mnist
    from gantool.train.data import training_dataset

    if config.spec.dataset != "mnist":
        return next(iter(training_dataset(config, 0, 1)))
    mnist = load_mnist(str(FIXTURE_NPZ))
    labels = mnist.y_train if config.uses_labels else None
    return next(iter(training_dataset(config, 0, 1, mnist.x_train, labels)))


@pytest.mark.parametrize("arch", ["dcgan", "dcgan-critic", "mlp", "cdcgan", "quadratic"])
def test_xla_float16_step_compiles_and_trains_on_cpu(tmp_path, arch):
    import keras
    import tensorflow as tf

    from gantool.train.build import build_gan
    from gantool.train.trainer import train

    config, device = config_for(arch), gpu_paths()
    gan = build_gan(config, device)
    assert gan.jit_compile
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    hidden = [layer for layer in gan.generator.layers if layer.weights][0]
    assert hidden.compute_dtype == "float16"
    assert all(output.dtype == "float32" for output in gan.generator.outputs)  # the output layer stays float32
    # The step itself lowers to XLA's HLO (an op XLA cannot compile would fail here).
    hlo = tf.function(gan.train_step, jit_compile=True).experimental_get_compiler_ir(first_batch(config))(stage="hlo")
    assert "HloModule" in hlo

    out = tmp_path / "run"
    data = str(FIXTURE_NPZ) if config.spec.dataset == "mnist" else None
    quiet = dict(data=data, device=device, log=lambda *_: None)
    if arch.startswith("dcgan"):  # a checkpoint written under float16 resumes (each train() compiles the step again)
        train(config, out, stop_after=1, **quiet)
        train(config, out, resume=True, **quiet)
    else:
        train(dataclasses.replace(config, epochs=1), out, **quiet)
    rows = (out / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 1 + (2 if arch.startswith("dcgan") else 1)
    for row in rows[1:]:
        values = dict(zip(header, row.split(","), strict=True))
        assert all(np.isfinite(float(values[key])) for key in ("d_loss", "g_loss", "d_real", "d_fake"))
    keras.mixed_precision.set_global_policy("float32")  # load as a user would
    saved = keras.models.load_model(out / "generator.keras")
    assert all(w.dtype == "float32" for w in saved.weights)
    recorded = json.loads((out / "config.json").read_text())["training"]
    assert recorded["mixed_precision"] is True


def test_ema_and_batchnorm_recalibration_under_float16(tmp_path):
    """The averaged weights come back as a float32 generator whose BatchNorm statistics were recomputed."""
    import keras

    from gantool.train.build import build_gan
    from gantool.train.snapshot import float32_generator

    config = config_for("dcgan")
    gan = build_gan(config, dataclasses.replace(gpu_paths(), jit_compile=False))  # float16 + loss scaling
    gan.fit(_one_batch_dataset(config), epochs=1, verbose=0)
    clean = float32_generator(gan, config)
    norms = [layer for layer in clean.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.compute_dtype == "float32" for layer in clean.layers)
    assert not np.allclose(norms[0].moving_variance.numpy(), 1.0)  # recalibrated, not the initial statistics
    z = np.random.default_rng(0).standard_normal((4, config.latent_dim)).astype(np.float32)
    images = np.asarray(clean(z, training=False))
    assert images.dtype == np.float32 and np.all(np.isfinite(images)) and np.abs(images).max() <= 1.0


def _one_batch_dataset(config):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(first_batch(config))


def test_bfloat16_on_cpu_trains(tmp_path):
    """``--mixed-precision`` on a CPU: bfloat16, no loss scaling, the step as a plain tf.function."""
    import keras

    from gantool.train.build import build_gan
    from gantool.train.trainer import train

    device = detect_device()
    assert not device.gpu and device.policy(True) == "mixed_bfloat16"
    config = config_for("dcgan", epochs=1)
    gan = build_gan(config, device)
    assert not isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    train(config, tmp_path / "run", data=str(FIXTURE_NPZ), device=device, log=lambda *_: None)
    assert (tmp_path / "run" / "generator.keras").is_file()
