"""The DCGAN paper's generator and critic for 32, 64 and 128-pixel images (gantool.train.models)."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.errors import GantoolError


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    generator = build_sized_generator(size, channels, latent_dim=16, base_filters=8)
    critic = build_sized_discriminator(size, channels, base_filters=8)
    assert generator.inputs[0].name == "z" and generator.layers[-1].name == "image"
    images = generator(np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32), training=False)
    assert tuple(images.shape) == (2, size, size, channels) and float(np.abs(images).max()) <= 1.0
    assert tuple(critic(images, training=False).shape) == (2, 1)


def test_filters_follow_the_size():
    from gantool.train.models import sized_filters

    assert sized_filters(32) == [256, 128, 64]
    assert sized_filters(64) == [512, 256, 128, 64]  # PyTorch's examples/dcgan: ngf * 8 down to ngf
    assert sized_filters(128) == [1024, 512, 256, 128, 64]
    assert sized_filters(64, base_filters=32) == [256, 128, 64, 32]


def test_64x64x3_has_the_paper_generators_size():
    """ngf 64, nz 100: 3,576,704 weights, as PyTorch's examples/dcgan Generator (its BatchNorm affine
    weights included; Keras also keeps the 1,920 moving means and variances, not trained)."""
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    generator = build_sized_generator(64, 3, 100)
    assert _trainable(generator) == 100 * 512 * 16 + 512 * 256 * 16 + 256 * 128 * 16 + 128 * 64 * 16 + 64 * 3 * 16 \
        + 2 * (512 + 256 + 128 + 64) == 3_576_704
    assert generator.count_params() == 3_576_704 + 2 * (512 + 256 + 128 + 64)
    # The critic: the example's 2,765,568 plus the logit's bias.
    assert _trainable(build_sized_discriminator(64, 3)) == 2_765_569


def test_28_is_the_tutorial_dcgan():
    from gantool.train.models import (
        build_discriminator,
        build_generator,
        build_sized_discriminator,
        build_sized_generator,
    )

    assert [layer.name for layer in build_sized_generator(28, 1).layers] == [layer.name for layer in build_generator().layers]
    assert [layer.name for layer in build_sized_discriminator(28, 1).layers] == \
        [layer.name for layer in build_discriminator().layers]
    assert [i.name for i in build_sized_generator(28, 1, num_classes=10).inputs] == ["z", "label"]


@pytest.mark.parametrize(("size", "channels", "classes", "words"), [
    (48, 3, 0, "`image_size` 48 has no DCGAN layout; choose 28"), (0, 3, 0, "32, 64, 128"),
    (256, 1, 0, "`image_size`"), (64, 4, 0, "`channels`"), (28, 3, 0, "greyscale only"),
    (28, 1, 5, "10 digits only")])
def test_sizes_without_a_layout(size, channels, classes, words):
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    for build in (build_sized_generator, build_sized_discriminator):
        with pytest.raises(GantoolError, match=words.replace("(", r"\(")):
            build(size, channels, num_classes=classes)


def test_conditional_pair_takes_labels():
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    generator = build_sized_generator(32, 3, 16, base_filters=8, num_classes=4)
    critic = build_sized_discriminator(32, 3, base_filters=8, num_classes=4)
    assert [i.name for i in generator.inputs] == ["z", "label"] and [i.name for i in critic.inputs] == ["image", "label"]
    z = np.zeros((3, 16), np.float32)
    labels = np.array([0, 1, 3], np.int32)
    images = np.asarray(generator([z, labels], training=False))
    assert images.shape == (3, 32, 32, 3)
    assert not np.array_equal(images[0], images[1])  # the label changes the picture
    assert tuple(critic([images, labels], training=False).shape) == (3, 1)


def test_code_gain_and_code_onehot_apply():
    """Its first layer is a Dense on the latent, as build.emphasize_code and the one-hot code need."""
    from gantool.train.build import emphasize_code
    from gantool.train.models import _reading_digit_code, build_sized_generator

    generator = build_sized_generator(32, 1, 16, base_filters=8)
    before = generator.layers[0].kernel.numpy().copy()
    emphasize_code(generator, 5.0)
    np.testing.assert_allclose(generator.layers[0].kernel.numpy()[:10], 5.0 * before[:10])
    coded = _reading_digit_code(generator)
    assert tuple(coded(np.zeros((2, 16), np.float32)).shape) == (2, 32, 32, 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["plain", "conditional", "code_critic"])
def test_two_steps_of_training_on_own_images(tmp_path, mode):
    """The GAN trains the pair on cached images fed by images_dataset (unconditional, conditional, code critic)."""
    import keras

    from gantool.train.gan import GAN
    from gantool.train.images import images_dataset, load_images
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), y=np.arange(40) % 10)
    cache = load_images(tmp_path / "data.npz", tmp_path / "cache")
    classes = 10 if mode == "conditional" else 0
    generator = build_sized_generator(32, 3, 16, base_filters=8, num_classes=classes)
    critic = build_sized_discriminator(32, 3, base_filters=8, num_classes=0 if mode == "plain" else 10)
    gan = GAN(generator, critic, 16, seed=0, num_classes=classes, code_critic=mode == "code_critic")
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    before = [w.copy() for w in generator.get_weights()]
    dataset = images_dataset(cache.images, seed=0, epoch=0, batch_size=8, steps_per_epoch=2,
                             labels=None if mode == "plain" else cache.labels)
    history = gan.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["d_loss"][-1]) and np.isfinite(history.history["g_loss"][-1])
    assert any(not np.array_equal(a, b) for a, b in zip(before, generator.get_weights(), strict=True))


def test_conditional_critic_projects_the_label_onto_summed_features():
    """The label term is Miyato & Koyama's <embed(label), the last map summed over its positions>: one weight
    per channel and class. cdcgan-paper v1 projected onto the flattened map (a weight per position, channel and
    class: a template of where each feature should fire), and its label term outgrew the plain logit on fakes."""
    import keras

    from gantool.train.models import build_sized_discriminator

    critic = build_sized_discriminator(32, 3, base_filters=8, num_classes=3)
    last_map = critic.get_layer("flatten").input  # 4x4x32
    probe = keras.Model(critic.inputs, [last_map, critic.get_layer("logit_plain").output, critic.output])
    table = np.asarray(critic.get_layer("label_projection").embeddings)
    assert table.shape == (3, last_map.shape[-1])
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    for label in range(3):
        features, plain, logit = (np.asarray(t) for t in probe([images, np.full(4, label, np.int32)], training=False))
        np.testing.assert_allclose(logit, plain + features.sum(axis=(1, 2)) @ table[label][:, None], atol=1e-4)


@pytest.mark.parametrize("num_classes", [0, 3])
def test_every_layer_draws_its_own_initial_weights(num_classes):
    """Each kernel of the paper's pair starts from numbers of its own, as PyTorch's example draws them.

    One Keras initializer object shared by the layers (Keras 3 fixes an unseeded one's seed when it is
    made) filled every kernel of a model with a prefix of the same sequence: the generator's projection,
    its transposed convolutions and its output layer all began 0.0215, -0.0083, 0.0074 (issue 34)."""
    import keras

    from gantool.train.models import build_sized_discriminator, build_sized_generator

    keras.utils.set_random_seed(0)
    models = (build_sized_generator(32, 3, 16, base_filters=8, num_classes=num_classes),
              build_sized_discriminator(32, 3, base_filters=8, num_classes=num_classes))
    kernels = [w.numpy().ravel() for model in models for w in model.trainable_weights
               if w.path.endswith(("kernel", "embeddings")) and "label_embedding" not in w.path]
    assert len(kernels) == 8 + (1 if num_classes else 0)  # 4 in each model, and the label projection
    leading = {tuple(np.round(kernel[:8], 6)) for kernel in kernels}
    assert len(leading) == len(kernels)
    assert all(0.018 < kernel.std() < 0.022 for kernel in kernels if kernel.size >= 1000)


@pytest.mark.parametrize("arch", ["dcgan-paper", "cdcgan-paper"])
def test_the_paper_archs_take_no_digit_code_critic(arch):
    """``code_critic`` judges with a critic told the digit a latent names; the paper's pair has none (its
    conditional critic is cdcgan-paper's, told a sub-folder's class), so the config refuses the pairing
    before any network is built."""
    from gantool.train.config import TrainConfig

    with pytest.raises(GantoolError, match=f"`code_critic` needs an unconditional MNIST arch \\(dcgan, mlp\\), not {arch}"):
        TrainConfig(arch=arch, code_critic=True, initializer="normal")
