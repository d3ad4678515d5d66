"""How the conditional sized critic's label term behaves in a short training (issue 34).

Trains the DCGAN paper's pair on a folder of labeled images for a few hundred steps with one of
three critics and prints, every 25 steps, the running g_loss / D(x) / D(G(z)) and the mean absolute
logit parts on a fixed batch of real images and of fakes (critic in training mode, as the GAN step
calls it):

- ``flat``: cdcgan-paper v1's critic, the label projected onto the flattened last map (rebuilt here);
- ``pooled``: this code's critic, the label projected onto the last map summed over its positions;
- ``uncond``: dcgan-paper's critic with no label (the control).

At the end it writes a grid of 16 samples (labels 0, 1, 2, ... in reading order) and prints their
pixel standard deviation across latents within one label beside the overall one: a within-label
figure far below the overall one means the generator draws one picture per label whatever ``z``.

Example:
    nice -n 10 python research/sized_critic_projection.py /tmp/shapes64 64 flat --steps 100 --batch 64
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def flat_critic(image_size: int, channels: int, num_classes: int):
    """cdcgan-paper v1's critic, as train/models.py built it: the plain logit plus <embed(label), flattened map>."""
    import keras
    from keras import layers

    from gantool.train.config import Initializer
    from gantool.train.models import layer_initializer, sized_critic_trunk

    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = sized_critic_trunk(image, image_size, 64, Initializer.normal)
    features = layers.Flatten(name="flatten")(x)
    label = keras.Input(shape=(), dtype="int32", name="label")
    logit = layers.Dense(1, kernel_initializer=layer_initializer(Initializer.normal), name="logit_plain")(features)
    projection = layers.Embedding(num_classes, features.shape[-1],
                                  embeddings_initializer=layer_initializer(Initializer.normal),
                                  name="label_projection")(label)
    agreement = layers.Dot(axes=1, name="label_agreement")([projection, features])
    return keras.Model([image, label], layers.Add(name="logit")([logit, agreement]), name="discriminator")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("size", type=int)
    parser.add_argument("critic", choices=["flat", "pooled", "uncond"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/sized_critic_projection")
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from gantool.runtime.images import make_grid, save_png
    from gantool.train.gan import GAN
    from gantool.train.images import images_training_dataset, load_images
    from gantool.train.models import build_sized_discriminator, build_sized_generator

    out = Path(args.out)
    cache = load_images(args.data, out / f"cache{args.size}", image_size=args.size)
    channels = cache.images.shape[-1]
    classes = 0 if args.critic == "uncond" else len(cache.class_names)
    labels = cache.labels if classes else None
    keras.utils.set_random_seed(args.seed)
    generator = build_sized_generator(args.size, channels, 100, num_classes=classes)
    critic = (flat_critic(args.size, channels, classes) if args.critic == "flat"
              else build_sized_discriminator(args.size, channels, num_classes=classes))
    gan = GAN(generator, critic, 100, seed=args.seed, num_classes=classes)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    epochs = args.steps * args.batch // len(cache.images) + 1
    dataset = images_training_dataset(cache.images, seed=args.seed, batch_size=args.batch, first_epoch=0,
                                      last_epoch=epochs, labels=labels).take(args.steps)

    parts = ["logit_plain", "label_agreement"] if classes else ["logit"]
    probe = keras.Model(critic.inputs, [critic.get_layer(name).output for name in parts])
    real = next(iter(images_training_dataset(cache.images, seed=args.seed + 1, batch_size=128, first_epoch=0,
                                             last_epoch=1, labels=labels)))
    rng = np.random.default_rng(args.seed + 1)
    z = tf.constant(rng.standard_normal((128, 100)).astype(np.float32))
    y = tf.constant((np.arange(128) % max(classes, 1)).astype(np.int32))

    def report(step: int, logs: dict) -> None:
        real_in = list(real) if classes else real
        fakes = generator([z, y] if classes else z, training=True)
        row = {"step": step, **{k: round(float(v), 3) for k, v in logs.items()}}
        for which, inputs in (("real", real_in), ("fake", [fakes, y] if classes else fakes)):
            values = probe(inputs, training=True)
            values = values if isinstance(values, list) else [values]
            row |= {f"{name}_{which}": round(float(np.mean(np.abs(np.asarray(v)))), 2)
                    for name, v in zip(parts, values, strict=True)}
        print(json.dumps(row), flush=True)

    class Every25(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 or (batch + 1) % 25 == 0:
                report(batch + 1, logs or {})

    report(0, {})
    start = time.perf_counter()
    gan.fit(dataset, epochs=1, verbose=0, callbacks=[Every25()])
    print(f"{args.critic} {args.size}px: {args.steps} steps of {args.batch}, "
          f"{(time.perf_counter() - start) / args.steps:.3f} s/step")
    samples = np.asarray(generator([z[:16], y[:16]] if classes else z[:16], training=False))
    pixels = (samples + 1) * 127.5
    if classes:
        within = np.mean([pixels[np.asarray(y[:16]) == k].std(axis=0).mean() for k in range(classes)])
        print(f"pixel std across latents within a label {within:.1f}, overall {pixels.std(axis=0).mean():.1f}")
    grid = out / f"{args.critic}_{args.size}_{args.steps}_{args.batch}.png"
    save_png(grid, make_grid(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), cols=8, scale=2))
    print(f"grid: {grid}")


if __name__ == "__main__":
    main()
