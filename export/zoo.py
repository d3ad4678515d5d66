"""A zoo of Keras generators shaped like well-known public GAN examples, for tests, benchmarks and the graph rules.

Every builder takes ``width`` and ``seed`` and returns a built ``keras.Model`` with an explicit
input named ``z`` (and ``label`` for the conditional one). ``width`` multiplies every hidden channel
count: 1.0 gives the public example's widths, :data:`TEST_WIDTH` a tiny copy of the same shape
(same input, output, layer kinds, kernels and strides) that converts in seconds. Latent sizes and
output channels never scale: they are part of the shape.

Weights come from ``numpy.random.default_rng(seed)`` after the model is built, never from Keras'
global seed state, so the same arguments give the same weights in any process. BatchNorm layers
get moving statistics as a trained model's would be (a small mean, a variance around 1, gamma
around 1, a small beta) so that folding them into a convolution is really tested. No layer is a
``Lambda``: every model saves and loads with ``safe_mode=True``.

:data:`ZOO` names the generators, :data:`VALUE_RANGES` their output ranges (read from the output
activation), and :data:`BAD` models that are not latent -> square image generators, for refusals.

Example:
    model = ZOO["dcgan64"](width=TEST_WIDTH, seed=0)
    path = save(model, tmp_path, "dcgan64")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import layers

# The width that keeps every zoo model under ~0.2 M parameters while keeping its shape.
TEST_WIDTH = 1 / 16


def _scaled(width: float) -> Callable[[int], int]:
    """A function mapping a public example's channel count to this copy's (at least 1)."""
    if not width > 0:
        raise ValueError(f"`width` must be a positive channel multiplier, got {width!r}")
    return lambda channels: max(1, round(channels * width))


def randomize(model: keras.Model, seed: int) -> keras.Model:
    """Set every weight of ``model`` from ``numpy.random.default_rng(seed)`` and return the model.

    Kernels are normal with a standard deviation of ``1.4 / sqrt(fan_in)``, so activations keep
    a scale of about 1 through the stack, as in a trained generator (not 0.02, the usual initial
    value, which would make every output the same grey). Biases and BatchNorm betas are small,
    gammas near 1, moving means small and moving variances in [0.5, 2].
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([_draw(layer, variable, rng) for variable in layer.weights])
    return model


def _draw(layer, variable, rng: np.random.Generator) -> np.ndarray:
    shape, name = tuple(variable.shape), variable.name
    if name == "kernel":
        value = rng.normal(0.0, 1.4 / np.sqrt(_fan_in(layer, shape)), shape)
    elif name in ("bias", "beta"):
        value = rng.normal(0.0, 0.05, shape)
    elif name == "gamma":
        value = rng.uniform(0.8, 1.2, shape)
    elif name == "moving_mean":
        value = rng.normal(0.0, 0.2, shape)
    elif name == "moving_variance":
        value = rng.uniform(0.5, 2.0, shape)
    elif name == "embeddings":
        value = rng.normal(0.0, 1.0, shape)
    else:
        raise ValueError(f"no rule to randomize {layer.name}/{name}; add one to export/zoo.py")
    return value.astype(np.float32)


def _fan_in(layer, shape: tuple[int, ...]) -> float:
    """Inputs feeding one output value: a transposed convolution's kernel is (kh, kw, out, in) and
    each output pixel sees only 1/stride**2 of its taps."""
    if isinstance(layer, layers.Conv2DTranspose):
        return shape[0] * shape[1] * shape[3] / float(np.prod(layer.strides))
    return float(np.prod(shape[:-1]))


def dcgan64(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The DCGAN paper's 64x64x3 generator (Radford, Metz & Chintala 2015, figure 1; the layout of
    the PyTorch examples' dcgan): z (100) -> Dense 4x4x1024, then four 4x4 stride-2 transposed
    convolutions 512, 256, 128, 3 with BatchNorm + ReLU between, tanh out. 12.7 M parameters."""
    channels = _scaled(width)
    z = keras.Input((100,), name="z")
    x = layers.Dense(4 * 4 * channels(1024), use_bias=False, name="project")(z)
    x = layers.Reshape((4, 4, channels(1024)), name="map")(x)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.ReLU(name="relu0")(x)
    for index, filters in enumerate((512, 256, 128), start=1):
        x = layers.Conv2DTranspose(channels(filters), 4, strides=2, padding="same", use_bias=False,
                                   name=f"up{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
    image = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh", name="up4")(x)
    return randomize(keras.Model(z, image, name="dcgan64"), seed)


def celeba64(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The keras-io "DCGAN to generate face images" (CelebA) generator: z (128) -> Dense 8x8x128,
    transposed convolutions 128, 256, 512 (4x4, stride 2, LeakyReLU 0.2), then a 5x5 Conv2D to 3
    channels with a sigmoid: 64x64x3 in [0, 1], no BatchNorm. 4.0 M parameters."""
    channels = _scaled(width)
    stack = [keras.Input((128,), name="z"),
             layers.Dense(8 * 8 * channels(128), name="project"),
             layers.Reshape((8, 8, channels(128)), name="map")]
    for index, filters in enumerate((128, 256, 512), start=1):
        stack += [layers.Conv2DTranspose(channels(filters), 4, strides=2, padding="same", name=f"up{index}"),
                  layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}")]
    stack.append(layers.Conv2D(3, 5, padding="same", activation="sigmoid", name="to_rgb"))
    return randomize(keras.Sequential(stack, name="celeba64"), seed)


def cifar32(width: float = 1.0, seed: int = 0) -> keras.Model:
    """A 32x32x3 CIFAR-10 DCGAN, the TensorFlow DCGAN tutorial's generator as the common CIFAR-10
    tutorials adapt it: z (100) -> Dense 4x4x256 without bias, BatchNorm, LeakyReLU 0.2, then 4x4
    stride-2 transposed convolutions 128 and 64 (BatchNorm, LeakyReLU) and 3 with tanh."""
    channels = _scaled(width)
    z = keras.Input((100,), name="z")
    x = layers.Dense(4 * 4 * channels(256), use_bias=False, name="project")(z)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky0")(x)
    x = layers.Reshape((4, 4, channels(256)), name="map")(x)
    for index, filters in enumerate((128, 64), start=1):
        x = layers.Conv2DTranspose(channels(filters), 4, strides=2, padding="same", use_bias=False,
                                   name=f"up{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}")(x)
    image = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh", name="up3")(x)
    return randomize(keras.Model(z, image, name="cifar32"), seed)


def _keras_io_mnist(input_width: int, name: str, width: float, seed: int, activation: str | None = "sigmoid"):
    """The keras-io MNIST generator on an input of ``input_width``, projected to 7x7x``input_width``."""
    channels = _scaled(width)
    maps = channels(input_width)
    stack = [keras.Input((input_width,), name="z"),
             layers.Dense(7 * 7 * maps, name="project"),
             layers.LeakyReLU(negative_slope=0.2, name="leaky0"),
             layers.Reshape((7, 7, maps), name="map")]
    for index in (1, 2):
        stack += [layers.Conv2DTranspose(channels(128), 4, strides=2, padding="same", name=f"up{index}"),
                  layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}")]
    stack.append(layers.Conv2D(1, 7, padding="same", activation=activation, name="to_grey"))
    return randomize(keras.Sequential(stack, name=name), seed)


def mnist_sigmoid28(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The keras-io MNIST generator ("Customizing what happens in fit()", GAN section): z (128) ->
    Dense 7x7x128, LeakyReLU 0.2, two 4x4 stride-2 transposed convolutions of 128 (LeakyReLU 0.2),
    a 7x7 Conv2D to 1 channel with a sigmoid: 28x28x1 in [0, 1]. 1.34 M parameters."""
    return _keras_io_mnist(128, "mnist_sigmoid28", width, seed)


def mnist_sigmoid28_onehot(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The keras-io "Conditional GAN" MNIST generator: one input of 138 (a latent of 128 joined
    with a one-hot label of 10) projected to 7x7x138, then as :func:`mnist_sigmoid28`. 1.49 M
    parameters. The label is part of the latent, so gantool sees an unconditional model."""
    return _keras_io_mnist(128 + 10, "mnist_sigmoid28_onehot", width, seed)


def wgan_gp28(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The keras-io "WGAN-GP" (Fashion-)MNIST generator: z (128) -> Dense 4x4x256 without bias,
    BatchNorm, LeakyReLU 0.2, then three blocks of UpSampling2D(2) + 3x3 Conv2D without bias +
    BatchNorm (128, 64 with LeakyReLU 0.2; 1 with tanh, BatchNorm included as keras-io has it)
    to 32x32, cropped by 2 on each side to 28x28x1. 0.91 M parameters."""
    channels = _scaled(width)
    z = keras.Input((128,), name="z")
    x = layers.Dense(4 * 4 * channels(256), use_bias=False, name="project")(z)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky0")(x)
    x = layers.Reshape((4, 4, channels(256)), name="map")(x)
    for index, filters in enumerate((channels(128), channels(64), 1), start=1):
        x = layers.UpSampling2D(2, name=f"upsample{index}")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = layers.BatchNormalization(name=f"bn{index}")(x)
        x = (layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}") if index < 3
             else layers.Activation("tanh", name="tanh"))(x)
    image = layers.Cropping2D((2, 2), name="crop")(x)
    return randomize(keras.Model(z, image, name="wgan_gp28"), seed)


def conditional28(width: float = 1.0, seed: int = 0, label_column: bool = False) -> keras.Model:
    """The two-input conditional generator of machinelearningmastery's "How to Develop a
    Conditional GAN (cGAN)" (Fashion-MNIST): z (100) -> Dense 7x7x128, LeakyReLU 0.2; the class id
    -> Embedding(10, 50) -> Dense 49 -> a 7x7x1 plane; both concatenated, then two 4x4 stride-2
    transposed convolutions of 128 (LeakyReLU 0.2) and a 7x7 Conv2D to 1 channel with tanh.

    The label is ``Input(shape=(), dtype="int32")``: labels of shape ``(batch,)``, as gantool's own
    cdcgan and the runtime take them, called as ``model([z, label])``. ``label_column=True`` gives
    the tutorial's ``Input(shape=(1,))`` (int32 here; the tutorial leaves it float): labels of
    shape ``(batch, 1)``, which the exporter must wrap.
    """
    channels = _scaled(width)
    z = keras.Input((100,), name="z")
    label = keras.Input((1,) if label_column else (), dtype="int32", name="label")
    plane = layers.Embedding(10, 50, name="label_embedding")(label)
    plane = layers.Dense(7 * 7, name="label_project")(plane)
    plane = layers.Reshape((7, 7, 1), name="label_plane")(plane)
    x = layers.Dense(7 * 7 * channels(128), name="project")(z)
    x = layers.LeakyReLU(negative_slope=0.2, name="leaky0")(x)
    x = layers.Reshape((7, 7, channels(128)), name="map")(x)
    x = layers.Concatenate(name="with_label")([x, plane])
    for index in (1, 2):
        x = layers.Conv2DTranspose(channels(128), 4, strides=2, padding="same", name=f"up{index}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}")(x)
    image = layers.Conv2D(1, 7, padding="same", activation="tanh", name="to_grey")(x)
    return randomize(keras.Model([z, label], image, name="conditional28"), seed)


def mlp28(width: float = 1.0, seed: int = 0) -> keras.Model:
    """The MLP GAN generator of Keras-MNIST-GAN (Zackory Erickson; the Goodfellow et al. 2014
    layout): z (100) -> Dense 256, 512, 1024 with LeakyReLU 0.2 -> Dense 784 tanh, reshaped to
    28x28x1. 1.49 M parameters."""
    channels = _scaled(width)
    stack = [keras.Input((100,), name="z")]
    for index, units in enumerate((256, 512, 1024), start=1):
        stack += [layers.Dense(channels(units), name=f"dense{index}"),
                  layers.LeakyReLU(negative_slope=0.2, name=f"leaky{index}")]
    stack += [layers.Dense(28 * 28, activation="tanh", name="pixels"), layers.Reshape((28, 28, 1), name="image")]
    return randomize(keras.Sequential(stack, name="mlp28"), seed)


ZOO: dict[str, Callable[..., keras.Model]] = {
    "dcgan64": dcgan64,
    "celeba64": celeba64,
    "cifar32": cifar32,
    "mnist_sigmoid28": mnist_sigmoid28,
    "mnist_sigmoid28_onehot": mnist_sigmoid28_onehot,
    "wgan_gp28": wgan_gp28,
    "conditional28": conditional28,
    "mlp28": mlp28,
}

# Each zoo model's output range, as its output activation gives it.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "dcgan64": (-1.0, 1.0), "celeba64": (0.0, 1.0), "cifar32": (-1.0, 1.0), "mnist_sigmoid28": (0.0, 1.0),
    "mnist_sigmoid28_onehot": (0.0, 1.0), "wgan_gp28": (-1.0, 1.0), "conditional28": (-1.0, 1.0),
    "mlp28": (-1.0, 1.0),
}


def classifier(width: float = 1.0, seed: int = 0) -> keras.Model:
    """Not a generator: a small MNIST classifier, 28x28x1 image -> 10 softmax probabilities."""
    channels = _scaled(width)
    stack = [keras.Input((28, 28, 1), name="image"),
             layers.Conv2D(channels(32), 3, strides=2, padding="same", activation="relu", name="conv1"),
             layers.Conv2D(channels(64), 3, strides=2, padding="same", activation="relu", name="conv2"),
             layers.Flatten(name="flatten"),
             layers.Dense(10, activation="softmax", name="probabilities")]
    return randomize(keras.Sequential(stack, name="classifier"), seed)


def two_images(width: float = 1.0, seed: int = 0) -> keras.Model:
    """Not a generator: two 28x28x1 image inputs blended into one 28x28x1 image (tanh)."""
    channels = _scaled(width)
    first, second = keras.Input((28, 28, 1), name="first"), keras.Input((28, 28, 1), name="second")
    x = layers.Concatenate(name="both")([first, second])
    x = layers.Conv2D(channels(32), 3, padding="same", activation="relu", name="conv")(x)
    image = layers.Conv2D(1, 3, padding="same", activation="tanh", name="blend")(x)
    return randomize(keras.Model([first, second], image, name="two_images"), seed)


def non_square(width: float = 1.0, seed: int = 0) -> keras.Model:
    """Not a square generator: z (64) -> a 28x32x1 tanh image."""
    channels = _scaled(width)
    stack = [keras.Input((64,), name="z"),
             layers.Dense(7 * 8 * channels(64), activation="relu", name="project"),
             layers.Reshape((7, 8, channels(64)), name="map"),
             layers.Conv2DTranspose(channels(32), 4, strides=2, padding="same", activation="relu", name="up1"),
             layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", name="up2")]
    return randomize(keras.Sequential(stack, name="non_square"), seed)


def flat_output(width: float = 1.0, seed: int = 0) -> keras.Model:
    """Not an image generator: z (100) -> (batch, 784) tanh, the MLP GAN without its Reshape."""
    channels = _scaled(width)
    stack = [keras.Input((100,), name="z"),
             layers.Dense(channels(256), name="hidden"),
             layers.LeakyReLU(negative_slope=0.2, name="leaky"),
             layers.Dense(28 * 28, activation="tanh", name="pixels")]
    return randomize(keras.Sequential(stack, name="flat_output"), seed)


def linear_output(width: float = 1.0, seed: int = 0) -> keras.Model:
    """A generator whose value range cannot be read: the keras-io MNIST generator (see
    :func:`mnist_sigmoid28`) with no activation on its last Conv2D."""
    return _keras_io_mnist(128, "linear_output", width, seed, activation=None)


# Models gantool must refuse (or, for linear_output, refuse without an explicit value range).
BAD: dict[str, Callable[..., keras.Model]] = {
    "classifier": classifier,
    "two_images": two_images,
    "non_square": non_square,
    "flat_output": flat_output,
    "linear_output": linear_output,
}


def save(model: keras.Model, folder: str | Path, name: str) -> Path:
    """Write ``model`` to ``folder/name.keras`` (creating ``folder``) and return that path."""
    path = Path(folder) / f"{name}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(model, path)
    return path
