"""PyTorch's examples/dcgan transcribed to raw TensorFlow (no Keras layers, no gantool code): issue 34's reference.

G: z -> the 1->4 ConvTranspose as a matmul -> BN, ReLU -> per doubling ConvTranspose 4x4 stride 2
padding 1, BN, ReLU -> ConvTranspose to 3 channels, tanh. D: Conv 4x4 stride 2 padding 1, LeakyReLU
0.2 -> Conv, BN, LeakyReLU ... -> Conv 4x4 valid -> logit. Every weight N(0, 0.02) drawn on its own,
BatchNorm gamma N(1, 0.02), BCE on logits, Adam 2e-4 / beta_1 0.5 / epsilon 1e-8, D on the real batch
and on the fake batch in separate passes (BatchNorm statistics per kind), G's step on the very fakes D
just saw (``--fresh``: new ones). Real pictures are drawn at random from a uint8 cache
(``images_SxSxC.npy`` of a run's data_cache/). Prints the running losses every 100 steps and writes
``OUT/NAME_<step>.png`` every 1,000 steps and ``OUT/NAME_train.png`` at the end (training-mode BatchNorm,
as the example draws its samples).

``--keras`` trains gantool's own pair (``build_sized_generator`` / ``build_sized_discriminator``) in
this loop instead, to tell the networks from the step.

Example (docs/own_images.md)::

    nice -n 19 python research/dcgan_reference.py RUN/data_cache/images_32x32x3.npy ref --steps 3000
"""

import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf

from gantool.runtime.images import make_grid, save_png

p = argparse.ArgumentParser()
p.add_argument("cache")
p.add_argument("name")
p.add_argument("--out", default="/tmp/dcgan_reference")
p.add_argument("--steps", type=int, default=600)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--keras", action="store_true")
p.add_argument("--gamma1", action="store_true")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--eps", type=float, default=1e-8)
p.add_argument("--fresh", action="store_true")
p.add_argument("--noise", type=float, default=0.0)
a = p.parse_args()

os.makedirs(a.out, exist_ok=True)
images = np.load(a.cache, mmap_mode="r", allow_pickle=False)
size = images.shape[1]
rng = np.random.default_rng(a.seed)
tf.random.set_seed(a.seed)
nz = 100
n_up = int(np.log2(size // 4))
gw = [64 * size // (8 * 2**i) for i in range(n_up)]  # 32: 256 128 64


def normal(shape, mean=0.0):
    return tf.Variable(
        np.full(shape, 1.0, np.float32)
        if (a.gamma1 and mean == 1.0)
        else rng.normal(mean, 0.02, shape).astype(np.float32)
    )


G = {"proj": normal((nz, 4 * 4 * gw[0]))}
G["bn0"] = (normal((gw[0],), 1.0), tf.Variable(tf.zeros(gw[0])))
for i in range(1, n_up):
    G[f"up{i}"] = normal((4, 4, gw[i], gw[i - 1]))  # conv2d_transpose filter: h w out in
    G[f"bn{i}"] = (normal((gw[i],), 1.0), tf.Variable(tf.zeros(gw[i])))
G["out"] = normal((4, 4, 3, gw[-1]))
dw = list(reversed(gw))
D = {}
cin = 3
for i, w in enumerate(dw):
    D[f"c{i}"] = normal((4, 4, cin, w))
    cin = w
    if i:
        D[f"bn{i}"] = (normal((w,), 1.0), tf.Variable(tf.zeros(w)))
D["out"] = normal((4, 4, cin, 1))


def flat(params):
    return [v for x in params.values() for v in (x if isinstance(x, tuple) else (x,))]


def bn(x, gb):
    m, v = tf.nn.moments(x, axes=[0, 1, 2])
    return tf.nn.batch_normalization(x, m, v, gb[1], gb[0], 1e-5)


def gen(z):
    x = tf.reshape(z @ G["proj"], (-1, 4, 4, gw[0]))
    x = tf.nn.relu(bn(x, G["bn0"]))
    s = 4
    for i in range(1, n_up):
        s *= 2
        x = tf.nn.conv2d_transpose(x, G[f"up{i}"], (tf.shape(x)[0], s, s, gw[i]), 2, "SAME")
        x = tf.nn.relu(bn(x, G[f"bn{i}"]))
    s *= 2
    return tf.tanh(tf.nn.conv2d_transpose(x, G["out"], (tf.shape(x)[0], s, s, 3), 2, "SAME"))


PAD = [[0, 0], [1, 1], [1, 1], [0, 0]]


def disc(x):
    if a.noise:
        x = x + a.noise * tf.random.normal(tf.shape(x))
    for i in range(len(dw)):
        x = tf.nn.conv2d(x, D[f"c{i}"], 2, PAD)
        if i:
            x = bn(x, D[f"bn{i}"])
        x = tf.nn.leaky_relu(x, 0.2)
    return tf.reshape(tf.nn.conv2d(x, D["out"], 1, "VALID"), (-1,))


gv, dv = flat(G), flat(D)
if a.keras:
    import keras

    from gantool.train.models import build_sized_discriminator, build_sized_generator

    keras.utils.set_random_seed(0)
    kg = build_sized_generator(size, 3, 100)
    kd = build_sized_discriminator(size, 3)

    def gen(z):
        return kg(z, training=True)

    _noise = a.noise

    def disc(x):
        if _noise:
            x = x + _noise * tf.random.normal(tf.shape(x))
        return tf.reshape(kd(x, training=True), (-1,))

    gv, dv = kg.trainable_variables, kd.trainable_variables
optG = tf.keras.optimizers.Adam(2e-4, beta_1=0.5, epsilon=a.eps)
optD = tf.keras.optimizers.Adam(2e-4, beta_1=0.5, epsilon=a.eps)
optG.build(gv)
optD.build(dv)
def bce(labels, logits):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))


@tf.function
def step(real):
    b = tf.shape(real)[0]
    z = tf.random.normal((b, nz))
    with tf.GradientTape() as t:
        fake = gen(z)
        lr_, lf = disc(real), disc(tf.stop_gradient(fake))
        dl = bce(tf.ones_like(lr_), lr_) + bce(tf.zeros_like(lf), lf)
    optD.apply_gradients(zip(t.gradient(dl, dv), dv, strict=True))
    if a.fresh:
        z = tf.random.normal((b, nz))
    with tf.GradientTape() as t:
        fake = gen(z)
        lg = disc(fake)
        gl = bce(tf.ones_like(lg), lg)
    optG.apply_gradients(zip(t.gradient(gl, gv), gv, strict=True))
    return dl, gl, tf.reduce_mean(tf.sigmoid(lr_)), tf.reduce_mean(tf.sigmoid(lf))


t0 = time.time()
hist = []
for s in range(a.steps):
    idx = rng.integers(0, len(images), a.batch)
    real = (np.asarray(images[np.sort(idx)], np.float32) - 127.5) / 127.5
    hist.append([float(v) for v in step(tf.constant(real))])
    if (s + 1) % 1000 == 0:
        out = gen(tf.constant(np.random.default_rng(0).standard_normal((32, nz)).astype(np.float32))).numpy()
        save_png(
            f"{a.out}/{a.name}_{s + 1}.png",
            make_grid(np.clip(np.rint((out + 1) * 127.5), 0, 255).astype(np.uint8), cols=8, scale=2),
        )
    if (s + 1) % 100 == 0:
        h = np.mean(hist[-100:], 0)
        print(
            json.dumps(
                {
                    "step": s + 1,
                    "d_loss": round(h[0], 3),
                    "g_loss": round(h[1], 3),
                    "d_real": round(h[2], 3),
                    "d_fake": round(h[3], 3),
                }
            ),
            flush=True,
        )
print(a.name, "s/step", round((time.time() - t0) / a.steps, 3))

out = gen(tf.constant(np.random.default_rng(0).standard_normal((32, nz)).astype(np.float32))).numpy()
save_png(
    f"{a.out}/{a.name}_train.png",
    make_grid(np.clip(np.rint((out + 1) * 127.5), 0, 255).astype(np.uint8), cols=8, scale=2),
)
