"""The GAN as a ``keras.Model`` with its own ``train_step`` (keras-io pattern).

Each step updates the discriminator on a real and a fake batch, then the
generator on fresh noise; with ``shared_fakes`` both updates read one batch of fakes. Noise comes from a :class:`keras.random.SeedGenerator`
whose state is a variable, so a checkpoint restores the exact noise stream.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from gantool.train.config import CODE_SIZE

# Decay of the running class shares of aux_balance="running" (about 100 batches).
SHARE_DECAY = 0.99


class GAN(keras.Model):
    """Generator + discriminator trained adversarially with BCE on logits."""

    def __init__(self, generator, discriminator, latent_dim: int, seed: int, label_smoothing: float = 0.0,
                 ema_decay: float = 0.0, d_steps: int = 1, num_classes: int = 0, aux_weight: float = 0.0,
                 aux_fake_weight: float = 0.0, aux_balance: str = "batch", aux_sharpen: str = "entropy",
                 top_k: float = 1.0, code_critic: bool = False, shared_fakes: bool = False):
        super().__init__()
        # shared_fakes: one generator pass and one critic pass on the fakes feed both updates
        # (the TensorFlow tutorial's step; TrainConfig.shared_fakes).
        self.shared_fakes = shared_fakes
        # aux_weight > 0: the discriminator also returns class logits (TrainConfig.aux_weight);
        # aux_fake_weight > 0: that head is pushed towards uncertainty on fakes (TrainConfig.aux_fake_weight).
        self.aux_weight = aux_weight
        self.aux_fake_weight = aux_fake_weight
        # aux_balance "running": the class-balance term scores each batch against a running average
        # of the class head's mean prediction (TrainConfig.aux_balance). Not checkpointed: it restarts
        # from uniform and forgets its start within a few hundred steps.
        self.aux_balance = aux_balance
        self.class_share = (keras.Variable([0.1] * 10, trainable=False, name="class_share")
                            if aux_weight and aux_balance == "running" else None)
        # aux_sharpen "max": the generator's certainty term is -log(max class probability); "code": the
        # cross-entropy to the class its latent names (TrainConfig.aux_sharpen).
        self.aux_sharpen = aux_sharpen
        # num_classes > 0: a conditional GAN; batches are (samples, labels), fakes get uniform labels.
        self.num_classes = num_classes
        # code_critic: an unconditional generator whose latent names its digit, judged by a conditional
        # discriminator with that digit for fakes and the true labels for real digits (TrainConfig.code_critic).
        self.code_critic = code_critic
        # top_k < 1: the generator's adversarial loss uses only the fakes the critic rates most real.
        self.top_k = top_k
        self.d_steps = d_steps
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.noise_seed = keras.random.SeedGenerator(seed)
        # An exponential moving average of the generator's weights (Polyak averaging):
        # what gets saved and exported when ema_decay > 0, smoother than the last step's weights.
        self.ema_decay = ema_decay
        self.ema = WeightAverage(generator, ema_decay) if ema_decay else None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def _noise(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)

    def _fake_labels(self, batch):
        return keras.random.randint((batch,), 0, self.num_classes, seed=self.noise_seed, dtype="int32")

    def _generate(self, batch, training=True):
        """(latents, labels, fakes): the latents too, for the class reward that reads them
        (aux_sharpen="code"); the labels the discriminator judges the fakes with (None when it takes none):
        uniform for a conditional generator, the digit each latent names under ``code_critic``."""
        if self.num_classes:
            labels = self._fake_labels(batch)  # drawn before the latents, as it always was
            z = self._noise(batch)
            return z, labels, self.generator([z, labels], training=training)
        z = self._noise(batch)
        labels = self.latent_class(z) if self.code_critic else None
        return z, labels, self.generator(z, training=training)

    def _judge(self, samples, labels):
        """(real/fake logits, class logits or None) of the discriminator."""
        outputs = self.discriminator([samples, labels] if labels is not None else samples, training=True)
        if self.aux_weight:
            return tf.cast(outputs[0], tf.float32), tf.cast(outputs[1], tf.float32)
        return tf.cast(outputs, tf.float32), None

    def _best_rated(self, logits):
        """The ``top_k`` fraction of ``logits`` ([batch, 1]) the critic rates most real (all when 1)."""
        if self.top_k >= 1:
            return logits
        count = tf.maximum(1, tf.cast(tf.round(self.top_k * tf.cast(tf.shape(logits)[0], tf.float32)), tf.int32))
        return tf.math.top_k(tf.reshape(logits, [-1]), count).values[:, None]

    @staticmethod
    def _mean_entropy(class_logits):
        """Mean per-sample entropy of the class prediction (nats)."""
        probs = tf.nn.softmax(class_logits)
        return -tf.reduce_mean(tf.reduce_sum(probs * tf.math.log(probs + 1e-8), axis=1))

    @staticmethod
    def latent_class(z):
        """The digit a latent names under ``aux_sharpen="code"``: the argmax of its first ``CODE_SIZE`` components."""
        return tf.argmax(z[:, :CODE_SIZE], axis=1, output_type=tf.int32)

    def _uncertainty(self, class_logits, z=None):
        """Mean per-sample uncertainty the generator minimizes: entropy, -log of the top probability,
        or the cross-entropy to the class the latent ``z`` names."""
        if self.aux_sharpen == "code":
            return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                self.latent_class(z), class_logits, from_logits=True))
        if self.aux_sharpen == "max":
            return -tf.reduce_mean(tf.reduce_max(tf.nn.log_softmax(class_logits), axis=1))
        return self._mean_entropy(class_logits)

    def _class_reward(self, class_logits, z=None):
        """CatGAN's generator term: mean per-sample uncertainty minus a class-balance term.

        ``aux_balance="batch"``: the entropy of the batch's mean prediction. ``"running"``: the
        cross-entropy of the batch's mean prediction against the running class shares, which
        rewards the classes produced too rarely so far and is linear in each sample's prediction
        (no reward for spreading one sample over two classes); the shares then move towards
        this batch's (decay :data:`SHARE_DECAY`).
        """
        probs = tf.nn.softmax(class_logits)
        per_sample = self._uncertainty(class_logits, z)
        mean = tf.reduce_mean(probs, axis=0)
        if self.aux_balance == "running":
            shares = tf.convert_to_tensor(self.class_share)
            balance = -tf.reduce_sum(mean * tf.math.log(shares + 1e-8))
            self.class_share.assign(SHARE_DECAY * shares + (1.0 - SHARE_DECAY) * tf.stop_gradient(mean))
        else:
            balance = -tf.reduce_sum(mean * tf.math.log(mean + 1e-8))
        return per_sample - balance

    def discriminator_terms(self, real_target, real_logits, fake_logits, real_labels, real_classes, fake_classes):
        """The discriminator's loss, term by term (only the terms the config switches on).

        - ``adversarial``: BCE of real digits against ``real_target`` and of fakes against 0;
        - ``real_classes`` (``aux_weight``): the class head's cross-entropy on the real labels;
        - ``fake_uncertainty`` (``aux_fake_weight``): minus the head's entropy on fakes (CatGAN).
        """
        terms = {"adversarial": self.bce(real_target, real_logits) + self.bce(tf.zeros_like(fake_logits), fake_logits)}
        if self.aux_weight:
            terms["real_classes"] = self.aux_weight * tf.reduce_mean(
                tf.keras.losses.sparse_categorical_crossentropy(real_labels, real_classes, from_logits=True))
        if self.aux_fake_weight:
            terms["fake_uncertainty"] = -self.aux_fake_weight * self._mean_entropy(fake_classes)
        return terms

    def generator_terms(self, fooled_logits, fake_classes, z=None):
        """The generator's loss, term by term.

        - ``adversarial``: BCE of the (top-k best rated) fakes against 1;
        - ``class_reward`` (``aux_weight``): certain, class-balanced digits (see :meth:`_class_reward`).
        """
        judged = self._best_rated(fooled_logits)
        terms = {"adversarial": self.bce(tf.ones_like(judged), judged)}
        if self.aux_weight:
            terms["class_reward"] = self.aux_weight * self._class_reward(fake_classes, z)
        return terms

    def train_step(self, data):
        if self.num_classes or self.aux_weight or self.code_critic:
            real_images, real_labels = data
        else:
            real_images, real_labels = data, None
        judge_labels = real_labels if self.num_classes or self.code_critic else None
        real_target = tf.fill((tf.shape(real_images)[0], 1), 1.0 - self.label_smoothing)

        if self.shared_fakes:
            d_loss, g_loss, real_logits, fake_logits = self._shared_step(real_images, real_labels, judge_labels,
                                                                         real_target)
        else:
            d_loss, g_loss, real_logits, fake_logits = self._alternating_step(real_images, real_labels, judge_labels,
                                                                              real_target)
        if self.ema is not None:
            self.ema.update(self.generator)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    def _apply(self, optimizer, tape, loss, model):
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=False))

    def _shared_step(self, real_images, real_labels, judge_labels, real_target):
        """Both updates from one batch of fakes: the critic's and the generator's losses read the same
        forward pass (simultaneous gradient steps, as in the TensorFlow DCGAN tutorial)."""
        batch = tf.shape(real_images)[0]
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            z, fake_labels, fake_images = self._generate(batch)
            real_logits, real_classes = self._judge(real_images, judge_labels)
            fake_logits, fake_classes = self._judge(fake_images, fake_labels)
            d_loss = sum_terms(self.discriminator_terms(real_target, real_logits, fake_logits, real_labels,
                                                        real_classes, fake_classes))
            g_loss = sum_terms(self.generator_terms(fake_logits, fake_classes, z))
            d_scaled = self.d_optimizer.scale_loss(d_loss)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.d_optimizer, d_tape, d_scaled, self.discriminator)
        self._apply(self.g_optimizer, g_tape, g_scaled, self.generator)
        return d_loss, g_loss, real_logits, fake_logits

    def _alternating_step(self, real_images, real_labels, judge_labels, real_target):
        """The critic's update(s) on fresh fakes, then the generator's on fresh fakes judged by the updated critic."""
        batch = tf.shape(real_images)[0]
        # d_steps > 1 gives the discriminator several updates (fresh fakes, same real batch) per
        # generator update: a stronger critic when D(x) and D(G(z)) sit near 0.5.
        for _ in range(self.d_steps):
            with tf.GradientTape() as tape:
                _, fake_labels, fake_images = self._generate(batch)
                real_logits, real_classes = self._judge(real_images, judge_labels)
                fake_logits, fake_classes = self._judge(fake_images, fake_labels)
                terms = self.discriminator_terms(real_target, real_logits, fake_logits, real_labels, real_classes,
                                                 fake_classes)
                d_loss = sum_terms(terms)
                scaled = self.d_optimizer.scale_loss(d_loss)
            self._apply(self.d_optimizer, tape, scaled, self.discriminator)

        with tf.GradientTape() as tape:
            z, wanted, fake = self._generate(batch)
            fooled_logits, fake_classes = self._judge(fake, wanted)
            g_loss = sum_terms(self.generator_terms(fooled_logits, fake_classes, z))
            scaled = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.g_optimizer, tape, scaled, self.generator)
        return d_loss, g_loss, real_logits, fake_logits

    def state_objects(self) -> dict:
        """Everything whose variables a checkpoint must hold, by a stable name."""
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
            "noise": self.noise_seed,
            **({"ema": self.ema} if self.ema is not None else {}),
        }

    def inference_weights(self) -> list:
        """The generator weights to save and export: the moving average when enabled."""
        if self.ema is not None:
            return [v.numpy() for v in self.ema.variables]
        return self.generator.get_weights()


def sum_terms(terms: dict):
    """A loss as the sum of its named terms, in order."""
    total = None
    for value in terms.values():
        total = value if total is None else total + value
    return total


class WeightAverage:
    """Moving averages of every generator weight (BatchNorm statistics included), as variables."""

    def __init__(self, generator, decay: float) -> None:
        self.decay = decay
        self.variables = [
            keras.Variable(w.numpy(), trainable=False, name=f"ema_{i}") for i, w in enumerate(generator.weights)
        ]

    def update(self, generator) -> None:
        for average, weight in zip(self.variables, generator.weights, strict=False):
            average.assign(self.decay * average + (1.0 - self.decay) * tf.cast(weight, average.dtype))
