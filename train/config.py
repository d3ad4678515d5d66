"""The training configuration, saved in every checkpoint and next to every run."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from gantool.errors import CheckpointError, GantoolError

# The class task's named choices, the default first: how it keeps classes balanced
# (TrainConfig.aux_balance) and what the generator's class reward makes certain (aux_sharpen).
# The latent's first CODE_SIZE components name the digit to draw (their argmax) under
# aux_sharpen="code"; code_gain and code_onehot act on the same components.
CODE_SIZE = 10
AUX_CHOICES = {"aux_balance": ("batch", "running"), "aux_sharpen": ("entropy", "max", "code")}


class Initializer(str, enum.Enum):
    """Weight initialisation: the tutorial's Keras default, or the DCGAN paper's N(0, 0.02)."""

    glorot = "glorot"
    normal = "normal"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result.

    Args:
        epochs: total epochs (a resumed run continues up to this number).
        batch_size: images per step; the last ragged batch of an epoch is dropped.
        seed: seeds weight init, data order (per epoch), noise and dropout.
        lr: Adam learning rate of both networks (tutorial: 1e-4).
        beta1: Adam beta_1 (tutorial: 0.9; DCGAN paper: 0.5).
        d_lr: discriminator learning rate, when it should differ from ``lr``.
        label_smoothing: one-sided smoothing; real targets become ``1 - label_smoothing``.
        latent_dim: length of the latent vector.
        initializer: weight initialisation of conv and dense kernels.
        mixed_precision: mixed_float16 on GPU, mixed_bfloat16 on CPU.
        shared_fakes: one batch of fakes feeds both updates of a step (the TensorFlow tutorial's
            step: one generator pass and one critic pass on fakes instead of two); needs ``d_steps`` 1.
        steps_per_epoch: cap on steps per epoch (for smoke tests); None for full epochs.
        grid_seed: seed of the fixed latents drawn in every epoch's sample grid.
        keep_epochs: also keep each epoch's generator (for choosing the best one later).
        eval_every: judge the generator with the shipped classifier every N epochs (0: never)
            and keep the generator with the lowest classifier-FID as ``best.keras``.
        eval_count: digits generated for each of those evaluations.
        ema_decay: keep an exponential moving average of the generator's weights with this
            decay (e.g. 0.999) and save/export it instead of the last step's weights; 0: off.
        d_steps: discriminator updates per generator update.
        aux_weight: weight of an auxiliary digit-class task (CatGAN-style, Springenberg 2016) for an
            unconditional MNIST GAN: the discriminator gets a 10-way head trained on the real
            digits' labels, and the generator is rewarded for samples that head classifies
            confidently (low per-sample entropy) while using every class evenly (high entropy of
            the batch's mean prediction). The generator itself is unchanged; 0: off.
        aux_fake_weight: weight of CatGAN's discriminator-side class term: the class head is also
            trained to be uncertain (high entropy) on generated digits, so the generator earns a
            confident class only with digits the head cannot tell from real ones. Without it the
            generator learns to please the head with digits an independent classifier finds
            ambiguous. Needs aux_weight > 0; 0: off.
        aux_balance: how the class task keeps every class in use. ``"batch"`` (CatGAN's): the
            entropy of each batch's mean prediction, which also rewards a digit halfway between
            two classes whenever a batch of 64 happens to lack one of them. ``"running"``: the
            batch's mean prediction scored against a running average of earlier batches' (decay
            0.99, restarting from uniform at each start or resume): under-produced classes are
            rewarded, and a blend earns no more than a clear digit of the rarer class.
        aux_sharpen: how the generator's class reward measures a sample's certainty.
            ``"entropy"`` (CatGAN's): the entropy of the head's prediction, whose gradient
            vanishes on an even blend of two digits (a saddle point: neither class is preferred).
            ``"max"``: minus the log-probability of the most likely class (a pseudo-label's
            cross-entropy), which pushes a blend towards whichever class leads. ``"code"``: the
            cross-entropy to the class the latent itself names, the argmax of its first 10
            components (uniform over the digits by construction, like the conditional GAN's
            labels): each latent gets one definite digit to draw, so certainty and balance are
            asked of every sample rather than found by the generator.
        code_gain: the generator's first-layer weights on the latent's first 10 components (the
            code ``aux_sharpen="code"`` reads the digit from) are multiplied by this at
            initialization. In dcgan that layer is followed by BatchNorm, so only the code's share of each
            unit's input variance counts: a tenth at 1, half at 3, 74% at 5. Two latents either
            side of a boundary between digits must draw different digits, and training grows
            the code's share on its own only slowly, so a steeper start draws fewer blends sooner
            (docs/recipes.md). 1: the initializer's own weights.
        code_onehot: the generator reads the latent's first 10 components as the one-hot of the
            digit they name (their argmax, uniform over the digits) instead of as 10 numbers:
            InfoGAN's categorical code, drawn from the Gaussian latent inside the generator, so
            the exported model still takes only ``z``. No latent lies near a boundary between
            two digits, so none is drawn as a blend of them (docs/recipes.md).
        code_critic: the discriminator also sees a digit label: the digit each fake's latent names
            (the argmax of its first 10 components), a real digit's own label. It is the conditional
            DCGAN's critic (a label plane and a projection term), so the unconditional generator
            plays the conditional GAN's game and gets no class reward (``aux_weight`` 0).
        top_k: fraction of each batch of generated digits whose adversarial loss trains the
            generator: the ones the discriminator rates most real (Sinha et al. 2020, "Top-k
            Training of GANs"). Late in training the worst-rated fakes' gradients point the
            generator away from what it already draws well. 1: every fake (the tutorial's).
        lr_decay_start: from this epoch on, both learning rates fall linearly, epoch by epoch,
            to reach 0 after the last epoch (0: constant rates). Annealing lets the generator
            settle instead of orbiting the equilibrium.
        arch: the architecture (:data:`gantool.train.archs.ARCHS`).
        recipe, recipe_version: the named recipe (:mod:`gantool.train.recipes`) this config
            is a phase of, for the record ("" when built by hand).
        overrides: the settings given on top of that recipe, for the record.
    """

    epochs: int = 20
    batch_size: int = 256
    seed: int = 0
    lr: float = 1e-4
    beta1: float = 0.9
    d_lr: float | None = None
    label_smoothing: float = 0.0
    latent_dim: int = 100
    initializer: Initializer = Initializer.glorot
    mixed_precision: bool = False
    shared_fakes: bool = False
    steps_per_epoch: int | None = None
    grid_seed: int = 0
    keep_epochs: bool = False
    eval_every: int = 0
    eval_count: int = 5000
    ema_decay: float = 0.0
    d_steps: int = 1
    lr_decay_start: int = 0
    aux_weight: float = 0.0
    aux_fake_weight: float = 0.0
    aux_balance: str = "batch"
    aux_sharpen: str = "entropy"
    code_gain: float = 1.0
    code_onehot: bool = False
    code_critic: bool = False
    top_k: float = 1.0
    arch: str = "dcgan"
    recipe: str = ""
    recipe_version: int = 0
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "latent_dim": self.latent_dim,
                    "d_steps": self.d_steps}
        for name, value in positive.items():
            if not isinstance(value, int) or value <= 0:
                raise GantoolError(f"`{name}` must be a positive integer, got {value}")
        if self.shared_fakes and self.d_steps != 1:
            raise GantoolError(f"`shared_fakes` feeds one critic update per step; `d_steps` {self.d_steps} needs it off")
        if self.eval_every < 0 or self.eval_count < 100:
            raise GantoolError("`eval_every` must be >= 0 and `eval_count` >= 100")
        from gantool.judge.evaluate import MAX_COUNT as MAX_EVAL_COUNT  # numpy: only when a config is made

        if self.eval_count > MAX_EVAL_COUNT:  # every evaluation holds all its samples in memory
            raise GantoolError(f"`eval_count` {self.eval_count} is above the limit of {MAX_EVAL_COUNT} "
                               "(gantool eval's); use fewer")
        if not isinstance(self.lr_decay_start, int) or not 0 <= self.lr_decay_start < self.epochs:
            raise GantoolError(f"`lr_decay_start` must be an epoch in [0, `epochs`={self.epochs}), got {self.lr_decay_start}")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise GantoolError(f"`steps_per_epoch` must be a positive integer, got {self.steps_per_epoch}")
        if not 0 < self.lr < 1 or (self.d_lr is not None and not 0 < self.d_lr < 1):
            raise GantoolError("learning rates (`lr`, `d_lr`) must be between 0 and 1 (e.g. 2e-4)")
        if not 0 <= self.beta1 < 1:
            raise GantoolError(f"`beta1` must be in [0, 1), got {self.beta1}")
        if not 0 <= self.ema_decay < 1:
            raise GantoolError(f"`ema_decay` must be in [0, 1) (e.g. 0.999), got {self.ema_decay}")
        if not 0 <= self.label_smoothing < 0.5:
            raise GantoolError(f"`label_smoothing` must be in [0, 0.5), got {self.label_smoothing}")
        from gantool.train.archs import arch_spec

        spec = arch_spec(self.arch)
        if not 0 <= self.aux_weight <= 10:
            raise GantoolError(f"`aux_weight` must be in [0, 10], got {self.aux_weight}")
        if not 0 <= self.aux_fake_weight <= 10:
            raise GantoolError(f"`aux_fake_weight` must be in [0, 10], got {self.aux_fake_weight}")
        if not 0 < self.top_k <= 1:
            raise GantoolError(f"`top_k` must be a fraction in (0, 1], got {self.top_k}")
        for name, choices in AUX_CHOICES.items():
            value, flag = getattr(self, name), f"`{name}`"
            if value not in choices:
                raise GantoolError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
            if value != choices[0] and not self.aux_weight:
                raise GantoolError(f"{flag} needs `aux_weight` > 0 (it is part of the class task)")
        if not 0 < self.code_gain <= 10:
            raise GantoolError(f"`code_gain` must be in (0, 10], got {self.code_gain}")
        reads = (("aux_sharpen", self.aux_sharpen == "code"), ("code_gain", self.code_gain != 1),
                 ("code_onehot", self.code_onehot), ("code_critic", self.code_critic))
        for name, reads_code in reads:
            if reads_code and self.latent_dim < CODE_SIZE:
                raise GantoolError(f"`{name}` reads the digit from the latent's first {CODE_SIZE} components; "
                                   f"`latent_dim` {self.latent_dim} is too short")
        if self.aux_fake_weight and not self.aux_weight:
            raise GantoolError("`aux_fake_weight` needs `aux_weight` > 0 (it trains the discriminator's class head)")
        for name, used in (("aux_weight", self.aux_weight), *reads[1:]):
            if used and (spec.dataset != "mnist" or spec.num_classes):
                raise GantoolError(f"`{name}` needs an unconditional MNIST arch (dcgan, mlp), not {self.arch}")
        if self.code_critic and self.aux_weight:
            raise GantoolError("`code_critic` plays the conditional GAN's game, which has no class head; "
                               "set `aux_weight` 0 (and `aux_fake_weight` 0)")
        object.__setattr__(self, "initializer", Initializer(self.initializer))

    @classmethod
    def settings_help(cls) -> dict[str, str]:
        """``{field: description}`` read from this class's docstring (one home for what each setting means)."""
        import inspect
        import re

        entries: dict[str, str] = {}
        name = None
        for line in inspect.getdoc(cls).split("Args:", 1)[1].splitlines():
            match = re.match(r"^    (\w+): (.*)$", line)
            if match:
                name, text = match.groups()
                entries[name] = text
            elif name and line.startswith("        "):
                entries[name] += " " + line.strip()
        return entries

    @property
    def spec(self):
        """The :class:`gantool.train.archs.ArchSpec` of this config's arch."""
        from gantool.train.archs import arch_spec

        return arch_spec(self.arch)

    @property
    def names_digit(self) -> bool:
        """True when each latent is trained to draw the digit its code names (the class reward reads the
        code, or the critic judges fakes with it)."""
        return self.aux_sharpen == "code" or self.code_critic

    @property
    def uses_labels(self) -> bool:
        """True when training reads the real digits' labels (a conditional arch, the class head, the code critic)."""
        return bool(self.spec.num_classes or self.aux_weight or self.code_critic)

    @property
    def discriminator_lr(self) -> float:
        return self.d_lr if self.d_lr is not None else self.lr

    def lr_scale(self, epoch: int) -> float:
        """Factor on both learning rates during 0-based ``epoch`` (1 before ``lr_decay_start``)."""
        if not self.lr_decay_start or epoch < self.lr_decay_start:
            return 1.0
        return (self.epochs - epoch) / (self.epochs - self.lr_decay_start + 1)

    def recipe_changes(self, saved: TrainConfig) -> dict[str, list]:
        """``{field: [before, after]}`` for the recipe fields a resumption changes (see ``RECIPE_CHANGES``)."""
        return {name: [getattr(saved, name), getattr(self, name)] for name in self.RECIPE_CHANGES
                if getattr(saved, name) != getattr(self, name)}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["initializer"] = self.initializer.value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise CheckpointError(f"saved training config is malformed ({exc})") from None

    # Fields that may change between a run and its resumption without changing the model's shape.
    # lr_decay_start may be set when a run is extended, to an epoch not below the checkpoint's
    # (checked in the trainer): a decay over the new epochs, or a warm restart at the full rate
    # after an earlier decay.
    # aux_weight may change between two non-zero values, aux_fake_weight freely (a later phase that
    # plays the class game differently); ema_decay likewise between two non-zero values (a longer
    # average for a low-rate phase); d_steps freely (a stronger critic for a later phase). The
    # trainer records every such change in the contract's training record ("resumes").
    RESUMABLE_CHANGES = ("epochs", "keep_epochs", "steps_per_epoch", "eval_every", "eval_count", "lr_decay_start",
                         "aux_weight", "aux_fake_weight", "aux_balance", "aux_sharpen", "ema_decay",
                         "top_k", "d_steps", "recipe", "recipe_version", "overrides")
    # Of those, the ones that change what the remaining epochs compute (recorded when they change).
    RECIPE_CHANGES = ("epochs", "lr_decay_start", "aux_weight", "aux_fake_weight", "aux_balance", "aux_sharpen",
                      "ema_decay", "top_k", "d_steps")

    def check_resumable_from(self, saved: TrainConfig) -> None:
        """Refuse to resume a checkpoint trained with a different recipe."""
        if bool(self.aux_weight) != bool(saved.aux_weight):
            raise CheckpointError(
                f"cannot resume: `aux_weight` {self.aux_weight} would {'add' if self.aux_weight else 'remove'} the "
                f"discriminator's class head the checkpoint was trained {'without' if self.aux_weight else 'with'}; "
                "only a change between two non-zero weights can resume"
            )
        if bool(self.ema_decay) != bool(saved.ema_decay):
            raise CheckpointError(
                f"cannot resume: `ema_decay` {self.ema_decay} would {'add' if self.ema_decay else 'drop'} the weight "
                f"average the checkpoint was trained {'without' if self.ema_decay else 'with'}; "
                "only a change between two non-zero decays can resume"
            )
        for field in dataclasses.fields(self):
            if field.name in self.RESUMABLE_CHANGES:
                continue
            if getattr(self, field.name) != getattr(saved, field.name):
                raise CheckpointError(
                    f"cannot resume: `{field.name}` is {getattr(self, field.name)!r} "
                    f"but the checkpoint was trained with {getattr(saved, field.name)!r}; resume with "
                    f"`{field.name}` {getattr(saved, field.name)!r}, or start a new run"
                )
