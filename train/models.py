"""The generators and discriminators gantool trains, as Keras models.

- ``dcgan``: the TensorFlow DCGAN tutorial's pair;
- ``mlp``: the fully connected GAN of the Keras-MNIST-GAN / Keras-GAN tutorials;
- ``cdcgan``: the DCGAN conditioned on a digit label (embedding fed to both nets);
- ``quadratic``: the 1-D toy GAN that learns the curve y = x^2 from points.
- :func:`build_sized_generator` / :func:`build_sized_discriminator`: the DCGAN paper's pair for
  32, 64 or 128-pixel images of 1 or 3 channels (your own images, :mod:`gantool.train.images`).

Every generator takes ``z`` (and ``label`` when conditional) and returns one
output named ``image`` (a point for the toy); the contract in
:func:`gantool.train.archs.contract_for_config` describes it to the runtime.
"""

from __future__ import annotations

import math

from gantool.train.archs import MNIST_SIZE, SIZED_IMAGE_SIZES, check_layout  # noqa: F401  (re-exported)
from gantool.train.config import CODE_SIZE, Initializer

IMAGE_SHAPE = (28, 28, 1)
NUM_DIGITS = 10
LABEL_EMBEDDING = 50


def _kernel_initializer(kind: Initializer):
    """One initializer that the tutorial archs (``dcgan``, ``mlp``, ``cdcgan``) share across all of a model's layers.

    Keras 3 gives an initializer made without a seed a fixed seed when it is made, so with
    ``Initializer.normal`` every layer of the model starts from the same stream of numbers (each kernel
    is a prefix of one sequence). The recipes of these archs were measured so and keep it; the DCGAN
    paper's pair takes :func:`layer_initializer` per layer instead.
    """
    import keras

    if kind == Initializer.normal:
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
    return "glorot_uniform"


def layer_initializer(kind: Initializer):
    """A new initializer for one layer, with a seed of its own (drawn from Python's ``random``, which
    ``keras.utils.set_random_seed`` seeds, so a run stays a function of its seed).

    Keras 3 fixes an unseeded initializer's seed when the object is made: one object shared by several
    layers fills every kernel with the same numbers. In the DCGAN paper's pair that made the critic's
    and the generator's kernels prefixes of one sequence each, correlated from layer to layer
    (docs/own_images.md, issue 34); PyTorch's example draws every layer independently.
    """
    import keras

    if kind == Initializer.normal:
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
    return keras.initializers.GlorotUniform()


def build_generator(latent_dim: int = 100, initializer: Initializer = Initializer.glorot, output_dtype=None,
                    arch: str = "dcgan", code_onehot: bool = False):
    """The generator of ``arch`` (see the module docstring); ``code_onehot``: see ``TrainConfig.code_onehot``."""
    builders = {"dcgan": _dcgan_generator, "mlp": _mlp_generator, "cdcgan": _cdcgan_generator,
                "quadratic": _quadratic_generator}
    generator = builders[arch](latent_dim, Initializer(initializer), output_dtype)
    return _reading_digit_code(generator) if code_onehot else generator


def generator_for(config, output_dtype=None, shape=None):
    """The generator a :class:`~gantool.train.config.TrainConfig` trains (training and saving build the same).

    ``shape`` (a :class:`~gantool.train.archs.ModelShape`) is what it draws; None: the arch's own shape,
    which an arch sized by the data has not (``dcgan-paper``, ``cdcgan-paper``: the paper's layout at
    ``shape``'s size, channels and classes).
    """
    spec = config.spec
    if spec.sized_by_data:
        shape = shape or spec.model_shape()  # raises: the data gives this arch its shape
        size, _, channels = shape.output_shape
        return build_sized_generator(size, channels, config.latent_dim, num_classes=shape.num_classes,
                                     initializer=config.initializer, output_dtype=output_dtype)
    return build_generator(config.latent_dim, config.initializer, output_dtype, config.arch, config.code_onehot)


def discriminator_for(config, output_dtype=None, shape=None):
    """The discriminator a config trains against its generator (:func:`generator_for`'s ``shape``).

    ``code_critic`` judges with the conditional DCGAN's critic, told the digit each latent names;
    ``aux_weight`` adds a 10-way class head.
    """
    spec = config.spec
    if spec.sized_by_data:
        shape = shape or spec.model_shape()
        size, _, channels = shape.output_shape
        return build_sized_discriminator(size, channels, num_classes=shape.num_classes,
                                         initializer=config.initializer, output_dtype=output_dtype)
    return build_discriminator(initializer=config.initializer, output_dtype=output_dtype,
                               arch="cdcgan" if config.code_critic else config.arch,
                               aux_classes=NUM_DIGITS if config.aux_weight else 0)


def _reading_digit_code(generator, code_size: int = CODE_SIZE):
    """``generator`` with its latent's first ``code_size`` components replaced by the one-hot of their argmax.

    The one-hot is ``code >= max(code)`` (ReduceMax, GreaterOrEqual, Cast in the exported
    graph: ops every ONNX and TFLite runtime has; Keras's ``argmax`` lowers to bit casts
    neither takes). Built from Keras ops, so the saved model loads in safe mode with no custom
    layer; the other layers and their weights are ``generator``'s own.
    """
    import keras
    from keras import ops

    z = keras.Input(shape=generator.inputs[0].shape[1:], name="z")
    code = z[:, :code_size]
    named = ops.cast(ops.greater_equal(code, ops.max(code, axis=-1, keepdims=True)), z.dtype)
    x = ops.concatenate([named, z[:, code_size:]], axis=-1)
    for layer in generator.layers:
        x = layer(x)
    return keras.Model(z, x, name=generator.name)


def build_discriminator(image_shape=IMAGE_SHAPE, initializer: Initializer = Initializer.glorot, output_dtype=None,
                        arch: str = "dcgan", aux_classes: int = 0):
    """The discriminator of ``arch``: one logit per sample.

    With ``aux_classes`` it also returns ``aux_classes`` class logits from a Dense head on the
    features before the real/fake logit (see ``TrainConfig.aux_weight``).
    """
    builders = {"dcgan": _dcgan_discriminator, "mlp": _mlp_discriminator, "cdcgan": _cdcgan_discriminator,
                "quadratic": _quadratic_discriminator}
    model = builders[arch](image_shape, Initializer(initializer), output_dtype)
    return _with_class_head(model, aux_classes, output_dtype) if aux_classes else model


def _with_class_head(discriminator, classes: int, output_dtype):
    """``discriminator`` with a second output: class logits from the input of its last (logit) layer."""
    import keras
    from keras import layers

    features = discriminator.layers[-1].input
    class_logits = layers.Dense(classes, dtype=output_dtype, name="class_logits")(features)
    return keras.Model(discriminator.inputs, [discriminator.outputs[0], class_logits], name="discriminator")


def _dcgan_generator(latent_dim: int, initializer: Initializer, output_dtype):
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


def _dcgan_discriminator(image_shape, initializer: Initializer, output_dtype):
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


def _mlp_generator(latent_dim: int, initializer: Initializer, output_dtype):
    """Dense 256 -> 512 -> 1024, each LeakyReLU(0.2) + BatchNorm(momentum 0.8), Dense 784 tanh -> 28x28x1."""
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    stack = [keras.Input(shape=(latent_dim,), name="z")]
    for units in (256, 512, 1024):
        stack += [
            layers.Dense(units, kernel_initializer=init, name=f"dense{units}"),
            layers.LeakyReLU(negative_slope=0.2, name=f"dense{units}_act"),
            layers.BatchNormalization(momentum=0.8, name=f"dense{units}_bn"),
        ]
    stack += [
        layers.Dense(784, activation="tanh", kernel_initializer=init, dtype=output_dtype, name="pixels"),
        layers.Reshape(IMAGE_SHAPE, dtype=output_dtype, name="image"),
    ]
    return keras.Sequential(stack, name="generator")


def _mlp_discriminator(image_shape, initializer: Initializer, output_dtype):
    """Flatten -> Dense 512 -> 256 with LeakyReLU(0.2) and Dropout 0.3 -> one logit."""
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    stack = [keras.Input(shape=image_shape, name="image"), layers.Flatten(name="flatten")]
    for units in (512, 256):
        stack += [
            layers.Dense(units, kernel_initializer=init, name=f"dense{units}"),
            layers.LeakyReLU(negative_slope=0.2, name=f"dense{units}_act"),
            layers.Dropout(0.3, name=f"dense{units}_drop"),
        ]
    stack.append(layers.Dense(1, kernel_initializer=init, dtype=output_dtype, name="logit"))
    return keras.Sequential(stack, name="discriminator")


def _cdcgan_generator(latent_dim: int, initializer: Initializer, output_dtype):
    """The DCGAN generator fed ``z`` concatenated with the label's embedding.

    The embedding enters before the 7x7x256 projection, so the label reaches every
    feature map; a single extra 7x7 plane (the Keras cGAN tutorial's way) left the
    label ignored after a full epoch (the classifier agreed with it on 10.2% of
    samples, i.e. chance).
    """
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    z = keras.Input(shape=(latent_dim,), name="z")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(NUM_DIGITS, LABEL_EMBEDDING, name="label_embedding")(label)
    x = layers.Concatenate(name="with_label")([z, embedded])
    x = layers.Dense(7 * 7 * 256, use_bias=False, kernel_initializer=init, name="project")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.LeakyReLU(negative_slope=0.3, name="project_act")(x)
    x = layers.Reshape((7, 7, 256), name="to_map")(x)
    for filters, stride, name in ((128, 1, "up1"), (64, 2, "up2")):
        x = layers.Conv2DTranspose(filters, 5, strides=stride, padding="same", use_bias=False,
                                   kernel_initializer=init, name=name)(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.LeakyReLU(negative_slope=0.3, name=f"{name}_act")(x)
    image = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh",
                                   kernel_initializer=init, dtype=output_dtype, name="image")(x)
    return keras.Model([z, label], image, name="generator")


def _cdcgan_discriminator(image_shape, initializer: Initializer, output_dtype):
    """The DCGAN discriminator with the label twice: as a 28x28 input plane (Keras cGAN tutorial)
    and as a projection term, logit += <embed(label), features> (Miyato & Koyama 2018), which
    makes a digit drawn for the wrong label easy to reject."""
    import keras
    from keras import layers

    init = _kernel_initializer(initializer)
    image = keras.Input(shape=image_shape, name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    plane = layers.Embedding(NUM_DIGITS, LABEL_EMBEDDING, name="label_embedding")(label)
    plane = layers.Dense(image_shape[0] * image_shape[1], kernel_initializer=init, name="label_project")(plane)
    plane = layers.Reshape((image_shape[0], image_shape[1], 1), name="label_plane")(plane)
    x = layers.Concatenate(name="with_label")([image, plane])
    for filters, name in ((64, "conv1"), (128, "conv2")):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", kernel_initializer=init, name=name)(x)
        x = layers.LeakyReLU(negative_slope=0.3, name=f"{name}_act")(x)
        x = layers.Dropout(0.3, name=f"{name}_drop")(x)
    features = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, kernel_initializer=init, name="logit_plain")(features)
    projection = layers.Embedding(NUM_DIGITS, features.shape[-1], embeddings_initializer=init,
                                  name="label_projection")(label)
    agreement = layers.Dot(axes=1, name="label_agreement")([projection, features])
    logit = layers.Add(dtype=output_dtype, name="logit")([logit, agreement])
    return keras.Model([image, label], logit, name="discriminator")


def _quadratic_generator(latent_dim: int, initializer: Initializer, output_dtype):
    """latent -> Dense 15 ReLU -> Dense 2 (a point (x, y))."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(latent_dim,), name="z"),
        layers.Dense(15, activation="relu", kernel_initializer="he_uniform", name="hidden"),
        layers.Dense(2, dtype=output_dtype, name="image"),
    ], name="generator")


def _quadratic_discriminator(image_shape, initializer: Initializer, output_dtype):
    """(x, y) -> Dense 25 ReLU -> one logit."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(2,), name="point"),
        layers.Dense(25, activation="relu", kernel_initializer="he_uniform", name="hidden"),
        layers.Dense(1, dtype=output_dtype, name="logit"),
    ], name="discriminator")


# PyTorch's BatchNorm2d defaults, which the DCGAN example trains with (Keras': momentum 0.99, epsilon 1e-3).
# The moving statistics then follow the last ten or so steps: a generator saved after an epoch of 23
# steps (3,000 pictures at batch 128) draws with statistics of its own weights, where Keras' 0.99 left
# 79% of the initial ones and drew a flat grey.
PAPER_BATCHNORM = {"momentum": 0.9, "epsilon": 1e-5}


def sized_filters(image_size: int, base_filters: int = 64) -> list[int]:
    """The generator's channels at 4x4, 8x8, ... image_size/2: ``base_filters * image_size / 8`` halving to
    ``base_filters`` (PyTorch's examples/dcgan at 64: 512, 256, 128, 64). The critic uses them reversed."""
    check_layout(image_size, 3)
    return [base_filters * image_size // (8 * 2**i) for i in range(int(math.log2(image_size // 4)))]


def build_sized_generator(image_size: int = 64, channels: int = 3, latent_dim: int = 100, *, base_filters: int = 64,
                          num_classes: int = 0, initializer: Initializer = Initializer.normal, output_dtype=None):
    """The DCGAN paper's generator for ``image_size`` x ``image_size`` x ``channels`` images.

    ``z`` -> Dense onto a 4x4 map of :func:`sized_filters`' first width (the paper's projection; a
    Dense layer first, so ``code_gain`` and ``code_onehot`` apply) -> BatchNorm, ReLU -> per doubling a
    Conv2DTranspose (4x4, stride 2, no bias), BatchNorm, ReLU -> the last one to ``channels`` with tanh,
    named ``image``. At 64x64x3 with 64 base filters and a 100-long latent it has 3,576,704 trainable
    weights, as the PyTorch example's. With ``num_classes`` it also takes ``label`` (int32), whose
    embedding joins ``z`` before the projection (as ``cdcgan``'s). ``image_size`` 28 gives the
    tutorial's ``dcgan`` (or ``cdcgan`` for 10 classes).

    Raises:
        GantoolError: an ``image_size`` without a layout, ``channels`` not 1 or 3, or 28 with colour.
    """
    import keras
    from keras import layers

    check_layout(image_size, channels)
    if image_size == MNIST_SIZE:
        return build_generator(latent_dim, initializer, output_dtype, _mnist_arch(num_classes))
    kind = Initializer(initializer)
    widths = sized_filters(image_size, base_filters)
    stack = [layers.Dense(4 * 4 * widths[0], use_bias=False, kernel_initializer=layer_initializer(kind),
                          name="project"),
             layers.Reshape((4, 4, widths[0]), name="to_map"),
             layers.BatchNormalization(**PAPER_BATCHNORM, name="project_bn"), layers.ReLU(name="project_act")]
    for i, width in enumerate(widths[1:], start=1):
        stack += [layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=layer_initializer(kind), name=f"up{i}"),
                  layers.BatchNormalization(**PAPER_BATCHNORM, name=f"up{i}_bn"), layers.ReLU(name=f"up{i}_act")]
    stack.append(layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False, activation="tanh",
                                        kernel_initializer=layer_initializer(kind), dtype=output_dtype, name="image"))
    z = keras.Input(shape=(latent_dim,), name="z")
    if not num_classes:
        return keras.Sequential([z, *stack], name="generator")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = layers.Concatenate(name="with_label")([z, layers.Embedding(num_classes, LABEL_EMBEDDING,
                                                                    name="label_embedding")(label)])
    for layer in stack:
        x = layer(x)
    return keras.Model([z, label], x, name="generator")


def build_sized_discriminator(image_size: int = 64, channels: int = 3, *, base_filters: int = 64, num_classes: int = 0,
                              initializer: Initializer = Initializer.normal, output_dtype=None):
    """The DCGAN paper's critic for ``image_size`` x ``image_size`` x ``channels`` images: one logit per image.

    :func:`sized_critic_trunk` from ``base_filters`` doubling down to a 4x4 map, then Flatten and a Dense
    logit (the example's last 4x4 convolution, as a logit for ``BinaryCrossentropy(from_logits=True)``). With ``num_classes`` it
    also takes ``label`` (int32) and adds the projection term <embed(label), pooled> of Miyato & Koyama
    (2018), where ``pooled`` is the last map summed over its 4x4 positions (their global sum pooling):
    one weight per channel and class, so the label asks for features wherever in the picture they are.
    Projecting onto the flattened map instead (``cdcgan-paper`` v1) gave each class a weight per position
    and channel, a template of where each feature should fire, and a larger label term
    (docs/own_images.md). No 28x28 label plane as in ``cdcgan``'s critic: it would cost a
    Dense of size**2 outputs at 128. This is the critic a conditional generator, or ``code_critic``'s
    unconditional one with ``num_classes=10``, is judged by. ``image_size`` 28 gives the tutorial's critic.
    """
    import keras
    from keras import layers, ops

    check_layout(image_size, channels)
    if image_size == MNIST_SIZE:
        return build_discriminator((28, 28, 1), initializer, output_dtype, _mnist_arch(num_classes))
    kind = Initializer(initializer)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = sized_critic_trunk(image, image_size, base_filters, kind)
    features = layers.Flatten(name="flatten")(x)
    if not num_classes:
        logit = layers.Dense(1, kernel_initializer=layer_initializer(kind), dtype=output_dtype, name="logit")(features)
        return keras.Model(image, logit, name="discriminator")
    label = keras.Input(shape=(), dtype="int32", name="label")
    logit = layers.Dense(1, kernel_initializer=layer_initializer(kind), name="logit_plain")(features)
    pooled = ops.sum(x, axis=(1, 2))  # global sum pooling: one value per channel, wherever it fired
    projection = layers.Embedding(num_classes, pooled.shape[-1], embeddings_initializer=layer_initializer(kind),
                                  name="label_projection")(label)
    agreement = layers.Dot(axes=1, name="label_agreement")([projection, pooled])
    return keras.Model([image, label], layers.Add(dtype=output_dtype, name="logit")([logit, agreement]),
                       name="discriminator")


def sized_critic_trunk(image, image_size: int, base_filters: int, initializer: Initializer = Initializer.normal):
    """The DCGAN paper critic's convolutions on the Keras tensor ``image``, down to the last 4x4 map: per
    halving a Conv2D (4x4, stride 2, no bias; each its own :func:`layer_initializer` of ``initializer``),
    BatchNorm on all but the first, LeakyReLU(0.2)."""
    from keras import layers

    x = image
    for i, width in enumerate(reversed(sized_filters(image_size, base_filters)), start=1):
        x = layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=layer_initializer(Initializer(initializer)), name=f"conv{i}")(x)
        if i > 1:
            x = layers.BatchNormalization(**PAPER_BATCHNORM, name=f"conv{i}_bn")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"conv{i}_act")(x)
    return x


def _mnist_arch(num_classes: int) -> str:
    check_layout(MNIST_SIZE, 1, num_classes)
    return "cdcgan" if num_classes else "dcgan"
