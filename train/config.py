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


class Group(str, enum.Enum):
    """Where a :class:`TrainConfig` field belongs; ``gantool train --help`` lists each group apart."""

    training = "training"  # the product's settings: what a person training a generator tunes
    research = "research"  # knobs only recipes set (the class task, the digit code, top-k): the lab's, not the product's
    record = "record"  # where a config came from (its arch, recipe and overrides): no setting overrides them


def setting(help: str, group: Group = Group.training, **field_options: Any) -> Any:
    """A :class:`TrainConfig` field that describes itself: ``help`` is its ``gantool train`` flag's text.

    ``field_options`` go to :func:`dataclasses.field` (``default`` or ``default_factory``).
    """
    return dataclasses.field(metadata={"help": help, "group": group}, **field_options)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result.

    Every field documents itself: its metadata holds its ``help`` (the text of its
    ``gantool train`` flag) and its :class:`Group`.
    """

    epochs: int = setting("Total epochs (a resumed run continues up to this number).", default=20)
    batch_size: int = setting("Images per step; the last ragged batch of an epoch is dropped.", default=256)
    image_size: int | None = setting(
        "Side in pixels of the square images trained on, for a folder of images: each image's shorter side is "
        "resized to it (Lanczos) and the centre square kept. Default: the images' own size when all are square "
        "and alike, else 64. Sizes with a DCGAN layout: 28 (greyscale, MNIST's DCGAN), or 32, 64 and 128 (the "
        "DCGAN paper's, greyscale or colour).", default=None)
    channels: int | None = setting(
        "1 (greyscale) or 3 (colour) channels, for a folder of images. Default: 3 when any image is in colour, "
        "else 1. Colour trains at 32, 64 and 128 pixels.", default=None)
    seed: int = setting("Seeds weight init, data order (per epoch), noise and dropout.", default=0)
    lr: float = setting("Adam learning rate of both networks (tutorial: 1e-4).", default=1e-4)
    beta1: float = setting("Adam beta_1 (tutorial: 0.9; DCGAN paper: 0.5).", default=0.9)
    d_lr: float | None = setting("Discriminator learning rate, when it should differ from lr.", default=None)
    label_smoothing: float = setting(
        "One-sided smoothing; real targets become 1 - label_smoothing.", default=0.0)
    latent_dim: int = setting("Length of the latent vector.", default=100)
    initializer: Initializer = setting("Weight initialisation of conv and dense kernels.", default=Initializer.glorot)
    mixed_precision: bool = setting("Mixed precision: mixed_float16 on GPU, mixed_bfloat16 on CPU.", default=False)
    shared_fakes: bool = setting(
        "One batch of fakes feeds both updates of a step (the TensorFlow tutorial's step: one generator pass and "
        "one critic pass on fakes instead of two); needs d_steps 1.", default=False)
    steps_per_epoch: int | None = setting("Cap on steps per epoch (for smoke tests); None for full epochs.",
                                          default=None)
    grid_seed: int = setting("Seed of the fixed latents drawn in every epoch's sample grid.", default=0)
    keep_epochs: bool = setting("Also keep each epoch's generator (for choosing the best one later).", default=False)
    eval_every: int = setting(
        "Judge the generator with the shipped classifier every N epochs (0: never) and keep the generator with "
        "the lowest classifier-FID as best.keras.", default=0)
    eval_count: int = setting("Digits generated for each of those evaluations.", default=5000)
    ema_decay: float = setting(
        "Keep an exponential moving average of the generator's weights with this decay (e.g. 0.999) and "
        "save/export it instead of the last step's weights; 0: off.", default=0.0)
    d_steps: int = setting("Discriminator updates per generator update.", default=1)
    lr_decay_start: int = setting(
        "From this epoch on, both learning rates fall linearly, epoch by epoch, to reach 0 after the last epoch "
        "(0: constant rates). Annealing lets the generator settle instead of orbiting the equilibrium.", default=0)
    aux_weight: float = setting(
        "Weight of an auxiliary digit-class task (CatGAN-style, Springenberg 2016) for an unconditional MNIST "
        "GAN: the discriminator gets a 10-way head trained on the real digits' labels, and the generator is "
        "rewarded for samples that head classifies confidently (low per-sample entropy) while using every class "
        "evenly (high entropy of the batch's mean prediction). The generator itself is unchanged; 0: off.",
        Group.research, default=0.0)
    aux_fake_weight: float = setting(
        "Weight of CatGAN's discriminator-side class term: the class head is also trained to be uncertain (high "
        "entropy) on generated digits, so the generator earns a confident class only with digits the head cannot "
        "tell from real ones. Without it the generator learns to please the head with digits an independent "
        "classifier finds ambiguous. Needs aux_weight > 0; 0: off.", Group.research, default=0.0)
    aux_balance: str = setting(
        'How the class task keeps every class in use. "batch" (CatGAN\'s): the entropy of each batch\'s mean '
        "prediction, which also rewards a digit halfway between two classes whenever a batch of 64 happens to "
        'lack one of them. "running": the batch\'s mean prediction scored against a running average of earlier '
        "batches' (decay 0.99, restarting from uniform at each start or resume): under-produced classes are "
        "rewarded, and a blend earns no more than a clear digit of the rarer class.",
        Group.research, default="batch")
    aux_sharpen: str = setting(
        'How the generator\'s class reward measures a sample\'s certainty. "entropy" (CatGAN\'s): the entropy of '
        "the head's prediction, whose gradient vanishes on an even blend of two digits (a saddle point: neither "
        'class is preferred). "max": minus the log-probability of the most likely class (a pseudo-label\'s '
        'cross-entropy), which pushes a blend towards whichever class leads. "code": the cross-entropy to the '
        "class the latent itself names, the argmax of its first 10 components (uniform over the digits by "
        "construction, like the conditional GAN's labels): each latent gets one definite digit to draw, so "
        "certainty and balance are asked of every sample rather than found by the generator.",
        Group.research, default="entropy")
    code_gain: float = setting(
        "The generator's first-layer weights on the latent's first 10 components (the code "
        'aux_sharpen="code" reads the digit from) are multiplied by this at initialization. In dcgan that layer '
        "is followed by BatchNorm, so only the code's share of each unit's input variance counts: a tenth at 1, "
        "half at 3, 74% at 5. Two latents either side of a boundary between digits must draw different digits, "
        "and training grows the code's share on its own only slowly, so a steeper start draws fewer blends "
        "sooner (docs/recipes.md). 1: the initializer's own weights.", Group.research, default=1.0)
    code_onehot: bool = setting(
        "The generator reads the latent's first 10 components as the one-hot of the digit they name (their "
        "argmax, uniform over the digits) instead of as 10 numbers: InfoGAN's categorical code, drawn from the "
        "Gaussian latent inside the generator, so the exported model still takes only z. No latent lies near a "
        "boundary between two digits, so none is drawn as a blend of them (docs/recipes.md).",
        Group.research, default=False)
    code_critic: bool = setting(
        "The discriminator also sees a digit label: the digit each fake's latent names (the argmax of its first "
        "10 components), a real digit's own label. It is the conditional DCGAN's critic (a label plane and a "
        "projection term), so the unconditional generator plays the conditional GAN's game and gets no class "
        "reward (aux_weight 0).", Group.research, default=False)
    top_k: float = setting(
        "Fraction of each batch of generated digits whose adversarial loss trains the generator: the ones the "
        'discriminator rates most real (Sinha et al. 2020, "Top-k Training of GANs"). Late in training the '
        "worst-rated fakes' gradients point the generator away from what it already draws well. 1: every fake "
        "(the tutorial's).", Group.research, default=1.0)
    arch: str = setting("The architecture (gantool.train.archs.ARCHS).", Group.record, default="dcgan")
    recipe: str = setting('The named recipe (gantool.train.recipes) this config is a phase of ("" when built by '
                          "hand).", Group.record, default="")
    recipe_version: int = setting("That recipe's version.", Group.record, default=0)
    overrides: dict[str, Any] = setting("The settings given on top of that recipe, for the record.", Group.record,
                                        default_factory=dict)

    def __post_init__(self) -> None:
        for check in CHECKS:
            check(self)
        object.__setattr__(self, "initializer", Initializer(self.initializer))

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
        return bool(self.spec.conditional or self.aux_weight or self.code_critic)

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


# -- the rules a TrainConfig obeys, in the order they are checked; each names its parameters in backticks --

def _counts_positive(config: TrainConfig) -> None:
    for name in ("epochs", "batch_size", "latent_dim", "d_steps"):
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise GantoolError(f"`{name}` must be a positive integer, got {value}")


def _shared_fakes_one_critic_update(config: TrainConfig) -> None:
    if config.shared_fakes and config.d_steps != 1:
        raise GantoolError(f"`shared_fakes` feeds one critic update per step; `d_steps` {config.d_steps} needs it off")


def _evaluation_in_range(config: TrainConfig) -> None:
    if config.eval_every < 0 or config.eval_count < 100:
        raise GantoolError("`eval_every` must be >= 0 and `eval_count` >= 100")
    from gantool.judge.evaluate import MAX_COUNT  # numpy: only when a config is made

    if config.eval_count > MAX_COUNT:  # every evaluation holds all its samples in memory
        raise GantoolError(f"`eval_count` {config.eval_count} is above the limit of {MAX_COUNT} (gantool eval's); use fewer")


def _schedule_in_range(config: TrainConfig) -> None:
    if not isinstance(config.lr_decay_start, int) or not 0 <= config.lr_decay_start < config.epochs:
        raise GantoolError(f"`lr_decay_start` must be an epoch in [0, `epochs`={config.epochs}), "
                           f"got {config.lr_decay_start}")
    if config.steps_per_epoch is not None and config.steps_per_epoch <= 0:
        raise GantoolError(f"`steps_per_epoch` must be a positive integer, got {config.steps_per_epoch}")


def _optimizer_in_range(config: TrainConfig) -> None:
    if not 0 < config.lr < 1 or (config.d_lr is not None and not 0 < config.d_lr < 1):
        raise GantoolError("learning rates (`lr`, `d_lr`) must be between 0 and 1 (e.g. 2e-4)")
    if not 0 <= config.beta1 < 1:
        raise GantoolError(f"`beta1` must be in [0, 1), got {config.beta1}")
    if not 0 <= config.ema_decay < 1:
        raise GantoolError(f"`ema_decay` must be in [0, 1) (e.g. 0.999), got {config.ema_decay}")
    if not 0 <= config.label_smoothing < 0.5:
        raise GantoolError(f"`label_smoothing` must be in [0, 0.5), got {config.label_smoothing}")


def _image_settings_in_range(config: TrainConfig) -> None:
    from gantool.train.images import check_settings  # Pillow: only when a config is made

    check_settings(config.image_size, config.channels)
    if config.spec.output_kind != "image" and (config.image_size is not None or config.channels is not None):
        raise GantoolError(f"`image_size` and `channels` describe images; `arch` {config.arch} draws "
                           f"{config.spec.output_kind}")
    if config.image_size is not None:
        from gantool.train.archs import check_layout

        check_layout(config.image_size, config.channels)  # a size no generator is built for: refused before any data


def _arch_known(config: TrainConfig) -> None:
    from gantool.train.archs import arch_spec

    arch_spec(config.arch)  # raises for an unknown `arch`, naming the known ones


def _weights_in_range(config: TrainConfig) -> None:
    for name in ("aux_weight", "aux_fake_weight"):
        if not 0 <= getattr(config, name) <= 10:
            raise GantoolError(f"`{name}` must be in [0, 10], got {getattr(config, name)}")
    if not 0 < config.top_k <= 1:
        raise GantoolError(f"`top_k` must be a fraction in (0, 1], got {config.top_k}")


def _class_task_choices(config: TrainConfig) -> None:
    for name, choices in AUX_CHOICES.items():
        value = getattr(config, name)
        if value not in choices:
            raise GantoolError(f"`{name}` must be one of {', '.join(choices)}, got {value!r}")
        if value != choices[0] and not config.aux_weight:
            raise GantoolError(f"`{name}` needs `aux_weight` > 0 (it is part of the class task)")


def _code_readers(config: TrainConfig) -> tuple[tuple[str, bool], ...]:
    """Each setting that reads the digit from the latent's code, and whether this config turns it on."""
    return (("aux_sharpen", config.aux_sharpen == "code"), ("code_gain", config.code_gain != 1),
            ("code_onehot", config.code_onehot), ("code_critic", config.code_critic))


def _code_fits_the_latent(config: TrainConfig) -> None:
    if not 0 < config.code_gain <= 10:
        raise GantoolError(f"`code_gain` must be in (0, 10], got {config.code_gain}")
    for name, reads_code in _code_readers(config):
        if reads_code and config.latent_dim < CODE_SIZE:
            raise GantoolError(f"`{name}` reads the digit from the latent's first {CODE_SIZE} components; "
                               f"`latent_dim` {config.latent_dim} is too short")


def _fake_class_term_needs_the_task(config: TrainConfig) -> None:
    if config.aux_fake_weight and not config.aux_weight:
        raise GantoolError("`aux_fake_weight` needs `aux_weight` > 0 (it trains the discriminator's class head)")


def _digit_knobs_need_unconditional_mnist(config: TrainConfig) -> None:
    spec = config.spec
    for name, used in (("aux_weight", config.aux_weight), *_code_readers(config)[1:]):
        if used and (spec.dataset != "mnist" or spec.conditional):
            raise GantoolError(f"`{name}` needs an unconditional MNIST arch (dcgan, mlp), not {config.arch}")


def _code_critic_has_no_class_head(config: TrainConfig) -> None:
    if config.code_critic and config.aux_weight:
        raise GantoolError("`code_critic` plays the conditional GAN's game, which has no class head; "
                           "set `aux_weight` 0 (and `aux_fake_weight` 0)")


CHECKS = (_counts_positive, _shared_fakes_one_critic_update, _evaluation_in_range, _schedule_in_range,
          _optimizer_in_range, _arch_known, _image_settings_in_range, _weights_in_range, _class_task_choices,
          _code_fits_the_latent, _fake_class_term_needs_the_task, _digit_knobs_need_unconditional_mnist,
          _code_critic_has_no_class_head)
