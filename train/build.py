"""Build the GAN for a config on a device: models, dtype policy, optimizers, XLA."""

from __future__ import annotations

from gantool.errors import GantoolError
from gantool.train.archs import ModelShape
from gantool.train.config import CODE_SIZE, TrainConfig
from gantool.train.device import Device


def build_gan(config: TrainConfig, device: Device | None = None, shape: ModelShape | None = None):
    """Build and compile the GAN and its optimizers (variables created, ready to load a checkpoint).

    ``device`` defaults to :func:`gantool.train.device.detect_device`'s choice. ``shape`` is what the
    generator draws (the run's data decides it: :meth:`~gantool.train.run_data.RunData.model_shape`);
    None: the arch's own shape (MNIST's, or the toy's points).
    """
    import keras

    from gantool.train.device import apply_determinism, detect_device
    from gantool.train.gan import GAN
    from gantool.train.models import discriminator_for, generator_for

    device = device or detect_device()
    shape = shape or config.spec.model_shape()
    apply_determinism(device)
    keras.mixed_precision.set_global_policy(device.policy(config.mixed_precision))
    keras.utils.set_random_seed(config.seed)
    generator = generator_for(config, output_dtype="float32", shape=shape)
    if config.code_gain != 1:
        emphasize_code(generator, config.code_gain)
    discriminator = discriminator_for(config, output_dtype="float32", shape=shape)
    gan = GAN(generator, discriminator, config.latent_dim, config.seed, config.label_smoothing, config.ema_decay,
              config.d_steps, num_classes=shape.num_classes, aux_weight=config.aux_weight,
              aux_fake_weight=config.aux_fake_weight, aux_balance=config.aux_balance,
              aux_sharpen=config.aux_sharpen, top_k=config.top_k, code_critic=config.code_critic,
              shared_fakes=config.shared_fakes)

    def adam(lr):
        optimizer = keras.optimizers.Adam(learning_rate=lr, beta_1=config.beta1)
        if config.mixed_precision and device.loss_scale:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    gan.compile(d_optimizer=adam(config.discriminator_lr), g_optimizer=adam(config.lr), jit_compile=device.jit_compile)
    gan.d_optimizer.build(discriminator.trainable_variables)
    gan.g_optimizer.build(generator.trainable_variables)
    return gan


def emphasize_code(generator, gain: float, code_size: int = CODE_SIZE) -> None:
    """Multiply the weights of ``generator``'s first Dense layer on the latent's first ``code_size``
    components by ``gain`` (``TrainConfig.code_gain``)."""
    import keras

    first = next((layer for layer in generator.layers if isinstance(layer, keras.layers.Dense)), None)
    if first is None or first.kernel.shape[0] != generator.inputs[0].shape[-1]:
        raise GantoolError(f"`code_gain` needs a generator whose first layer is a Dense layer on the latent; "
                           f"{generator.name} has none")
    kernel = first.kernel.numpy()
    kernel[:code_size] *= gain
    first.kernel.assign(kernel)


def set_learning_rates(gan, config: TrainConfig, epoch: int) -> None:
    """Apply the learning-rate schedule for 0-based ``epoch`` (a pure function of config and epoch)."""
    scale = config.lr_scale(epoch)
    gan.d_optimizer.learning_rate.assign(config.discriminator_lr * scale)
    gan.g_optimizer.learning_rate.assign(config.lr * scale)
