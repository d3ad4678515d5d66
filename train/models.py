"""The DCGAN of the TensorFlow DCGAN tutorial, as two Keras models."""

from __future__ import annotations

from gantool.train.config import Initializer

IMAGE_SHAPE = (28, 28, 1)


def _kernel_initializer(kind: Initializer):
    import keras

    if kind == Initializer.normal:
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
    return "glorot_uniform"


def build_generator(latent_dim: int = 100, initializer: Initializer = Initializer.glorot, output_dtype=None):
    """Dense(7*7*256) -> BN -> LeakyReLU -> 3 x Conv2DTranspose (128 s1, 64 s2, 1 s2 tanh).

    ``output_dtype`` pins the last layer's dtype (float32 under mixed precision).
    """
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,), name="z"),
            layers.Dense(7 * 7 * 256, use_bias=False, kernel_initializer=init, name="project"),
            layers.BatchNormalization(name="project_bn"),
            layers.LeakyReLU(negative_slope=0.3, name="project_act"),
            layers.Reshape((7, 7, 256), name="to_map"),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False, kernel_initializer=init, name="up1"),
            layers.BatchNormalization(name="up1_bn"),
            layers.LeakyReLU(negative_slope=0.3, name="up1_act"),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False, kernel_initializer=init, name="up2"),
            layers.BatchNormalization(name="up2_bn"),
            layers.LeakyReLU(negative_slope=0.3, name="up2_act"),
            layers.Conv2DTranspose(
                1, 5, strides=2, padding="same", use_bias=False, activation="tanh",
                kernel_initializer=init, dtype=output_dtype, name="image",
            ),
        ],
        name="generator",
    )


def build_discriminator(image_shape=IMAGE_SHAPE, initializer: Initializer = Initializer.glorot, output_dtype=None):
    """Conv2D 64 and 128 (5x5, stride 2) with LeakyReLU and Dropout 0.3, then one logit."""
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    return keras.Sequential(
        [
            keras.Input(shape=image_shape, name="image"),
            layers.Conv2D(64, 5, strides=2, padding="same", kernel_initializer=init, name="conv1"),
            layers.LeakyReLU(negative_slope=0.3, name="conv1_act"),
            layers.Dropout(0.3, name="conv1_drop"),
            layers.Conv2D(128, 5, strides=2, padding="same", kernel_initializer=init, name="conv2"),
            layers.LeakyReLU(negative_slope=0.3, name="conv2_act"),
            layers.Dropout(0.3, name="conv2_drop"),
            layers.Flatten(name="flatten"),
            layers.Dense(1, kernel_initializer=init, dtype=output_dtype, name="logit"),
        ],
        name="discriminator",
    )
