"""Training speed side by side: gantool's steps against the TensorFlow DCGAN tutorial's own code.

Every candidate is built once, warmed up (XLA compiles there), then timed for ``--steps``
steps per round, round after round interleaved so that load on the machine hits them alike.
Reported: median images per second over rounds, and the ratio to the tutorial's code.
The per-epoch evaluation's cost is timed as well (one gantool judgement of ``--eval-count``
digits) and expressed as a share of one epoch of the default recipe.

Usage: python benchmarks/train_speed.py --data mnist.npz [--rounds 3 --steps 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time


def tutorial_step(batch_size: int):
    """The TensorFlow DCGAN tutorial's models, optimizers and ``train_step``, as the tutorial writes them."""
    import tensorflow as tf
    from tensorflow.keras import layers

    def make_generator_model():
        model = tf.keras.Sequential()
        model.add(layers.Dense(7 * 7 * 256, use_bias=False, input_shape=(100,)))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Reshape((7, 7, 256)))
        model.add(layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"))
        return model

    def make_discriminator_model():
        model = tf.keras.Sequential()
        model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same", input_shape=[28, 28, 1]))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model

    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator, discriminator = make_generator_model(), make_discriminator_model()
    generator_optimizer, discriminator_optimizer = tf.keras.optimizers.Adam(1e-4), tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([batch_size, 100])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = (cross_entropy(tf.ones_like(real_output), real_output)
                         + cross_entropy(tf.zeros_like(fake_output), fake_output))
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables, strict=True))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables,
                                                    strict=True))

    return train_step


@dataclasses.dataclass
class Candidate:
    name: str
    batch_size: int
    step: object  # callable(batch) -> None
    batches: list
    rates: list = dataclasses.field(default_factory=list)


def gantool_step(settings: dict, device):
    """gantool's compiled train step for the default recipe with ``settings`` on ``device``."""
    from gantool.train.build import build_gan
    from gantool.train.recipes import recipe

    config = recipe("default").configs(settings)[-1]
    gan = build_gan(config, device)
    gan.make_train_function()
    step = gan.train_function

    def run(batch):
        step(iter([batch]))

    return config, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="mnist.npz")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per candidate per round")
    parser.add_argument("--eval-count", type=int, default=2000)
    parser.add_argument("--xla", action="store_true", help="also time the default step compiled with XLA")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from gantool.judge.mnist import load_mnist
    from gantool.train.config import TrainConfig
    from gantool.train.data import epoch_dataset
    from gantool.train.device import detect_device

    mnist = load_mnist(args.data)
    cpu = detect_device()
    xla = dataclasses.replace(cpu, jit_compile=True, deterministic=False)

    def batches(config, with_labels):
        data = epoch_dataset(mnist.x_train[:8192], config, 0, mnist.y_train[:8192] if with_labels else None)
        return [b for _, b in zip(range(args.steps), data, strict=False)]

    candidates = []
    keras.mixed_precision.set_global_policy("float32")
    tutorial = tutorial_step(256)
    plain = TrainConfig(batch_size=256)
    candidates.append(Candidate("TF tutorial's train_step (batch 256)", 256, tutorial, batches(plain, False)))
    plain_game = dict(code_critic=False, code_onehot=False, top_k=1.0)  # an unconditional critic, no label
    v4 = dict(shared_fakes=False, mixed_precision=False)  # default v4's step: two passes, float32
    variants = [
        ("gantool, tutorial settings (batch 256, plain critic, no EMA)", dict(batch_size=256, ema_decay=0.0,
                                                                          **plain_game, **v4), cpu),
        ("gantool, batch 64, code critic, no EMA", dict(ema_decay=0.0, **v4), cpu),
        ("default v4 step (batch 64, code critic, EMA)", v4, cpu),
        ("v4 + shared fakes (one generator pass)", dict(v4, shared_fakes=True), cpu),
        ("v4 + mixed_bfloat16", dict(v4, mixed_precision=True), cpu),
        ("v4 + shared fakes + mixed_bfloat16", dict(shared_fakes=True, mixed_precision=True), cpu),
    ]
    if args.xla:
        variants.append(("v4 + shared fakes + mixed_bfloat16, XLA", dict(shared_fakes=True, mixed_precision=True), xla))
    for name, settings, device in variants:
        config, step = gantool_step(settings, device)
        candidates.append(Candidate(name, config.batch_size, step, batches(config, config.uses_labels)))
        keras.mixed_precision.set_global_policy("float32")
    for candidate in candidates:  # warm-up: tracing and compiling
        for batch in candidate.batches[:3]:
            candidate.step(batch)
    for _ in range(args.rounds):
        for candidate in candidates:
            started = time.perf_counter()
            for batch in candidate.batches:
                candidate.step(batch)
            candidate.rates.append(candidate.batch_size * len(candidate.batches) / (time.perf_counter() - started))
    base = statistics.median(candidates[0].rates)
    print(f"TensorFlow {tf.__version__}, {cpu.description}; {args.rounds} interleaved rounds of {args.steps} steps")
    print(f"| {'step':<55} | images/s | vs tutorial code |")
    print(f"| {'-' * 55} | -------- | ---------------- |")
    for candidate in candidates:
        rate = statistics.median(candidate.rates)
        print(f"| {candidate.name:<55} | {rate:8.0f} | {rate / base:15.2f}x |")

    # The per-epoch evaluation of the default recipe, against one epoch of its step.
    from gantool.judge.evaluate import evaluate_images, load_judge
    from gantool.runtime.contract import latents
    from gantool.train.callbacks import run_generator
    from gantool.train.models import generator_for
    from gantool.train.recipes import recipe

    judge = load_judge()
    config = recipe("default").configs({})[-1]
    generator = generator_for(config)
    started = time.perf_counter()
    images = run_generator(generator, latents(args.eval_count, config.latent_dim, 0), 0)
    evaluate_images(images, *judge)
    seconds = time.perf_counter() - started
    default_rate = statistics.median(candidates[3].rates)  # the default (v4) step
    epoch = 60_000 / default_rate
    print(f"per-epoch evaluation of {args.eval_count} digits: {seconds:.1f} s, {seconds / epoch:.1%} of a default epoch "
          f"({epoch:.0f} s at {default_rate:.0f} images/s)")


if __name__ == "__main__":
    main()
