"""The architectures ``gantool train --arch`` knows: one table, read by the CLI, trainer and contract.

Adding a GAN is one builder pair in :mod:`gantool.train.models` and one row in
:data:`ARCHS`; the runtime needs nothing new as long as its output is an image
or a point and its only extra input is a class label.

The MNIST archs draw one fixed shape. The DCGAN paper's (``dcgan-paper``, ``cdcgan-paper``)
draw the data's: its image shape and, when conditional, one class per class of the data;
:meth:`ArchSpec.model_shape` resolves what a run's generator draws from both.
"""

from __future__ import annotations

import dataclasses

from gantool.conventions import DEFAULT_VALUE_RANGE
from gantool.errors import GantoolError


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """What one architecture trains on and gives (its training settings are recipes:
    :mod:`gantool.train.recipes`).

    Args:
        name: ``--arch`` value.
        dataset: ``mnist`` or ``quadratic``.
        output_kind: ``image`` or ``points`` (see :data:`gantool.runtime.contract.OUTPUT_KINDS`).
        output_shape: one sample's shape; None: the data's (an image shape with a DCGAN layout,
            :func:`check_layout`).
        value_range: range of outputs (the plotting window for points).
        num_classes: classes of the label input (0: unconditional); None: one per class of the data.
        summary: one line for ``--help``.
    """

    name: str
    dataset: str
    output_kind: str
    output_shape: tuple[int, ...] | None
    value_range: tuple[float, float]
    num_classes: int | None
    summary: str

    @property
    def conditional(self) -> bool:
        """True when the generator takes a class label."""
        return self.num_classes != 0

    @property
    def sized_by_data(self) -> bool:
        """True when the data decides the image shape (the DCGAN paper's layout at the data's size)."""
        return self.output_shape is None

    def model_shape(self, image_shape: tuple[int, ...] | None = None, class_count: int = 0) -> ModelShape:
        """What this arch's generator draws when trained on images of ``image_shape`` in ``class_count``
        classes: its own shape and classes, or the data's where the arch takes them from the data.

        Raises:
            GantoolError: the arch takes its shape from the data and ``image_shape`` is None.
        """
        shape = self.output_shape or image_shape
        if shape is None:
            raise GantoolError(f"`arch` {self.name} draws images of the data's size; it needs the data's image shape")
        return ModelShape(tuple(int(d) for d in shape), class_count if self.num_classes is None else self.num_classes)


@dataclasses.dataclass(frozen=True)
class ModelShape:
    """What a run's generator draws: one sample's shape and the classes of its label input (0: none).

    The builders (:func:`gantool.train.models.generator_for`), the GAN and the contract read it, so a
    model rebuilt for saving has the very shape of the one trained.
    """

    output_shape: tuple[int, ...]
    num_classes: int = 0


ARCHS: dict[str, ArchSpec] = {spec.name: spec for spec in (
    ArchSpec("dcgan", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 0,
             "TensorFlow DCGAN tutorial (Dense 7x7x256, 3 Conv2DTranspose; Conv2D 64/128 + dropout critic)"),
    ArchSpec("mlp", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 0,
             "Keras-MNIST-GAN fully connected GAN (Dense 256/512/1024 + BN; Dense 512/256 + dropout critic)"),
    ArchSpec("cdcgan", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 10,
             "conditional DCGAN: label embedding joined to z; critic with label plane + projection; sample --digit 7"),
    ArchSpec("quadratic", "quadratic", "points", (2,), (-0.5, 0.5), 0,
             "1-D toy GAN learning points (x, x^2), x in [-0.5, 0.5]; converges in seconds"),
    ArchSpec("dcgan-paper", "images", "image", None, DEFAULT_VALUE_RANGE, 0,
             "the DCGAN paper's pair at the data's size: 32, 64 or 128 px (28: the tutorial's dcgan), grey or colour"),
    ArchSpec("cdcgan-paper", "images", "image", None, DEFAULT_VALUE_RANGE, None,
             "dcgan-paper with a label input, one class per sub-folder of the data; sample --label NAME"),
)}
DATASETS = ("mnist", "quadratic")


# Square sizes with a DCGAN-paper layout (a 4x4 map doubled to the size); 28 is the tutorial's MNIST DCGAN.
SIZED_IMAGE_SIZES = (32, 64, 128)
MNIST_SIZE = 28
MNIST_CLASSES = 10


def check_layout(image_size: int, channels: int | None = None, num_classes: int = 0) -> None:
    """Refuse an image shape no DCGAN layout draws (:mod:`gantool.train.models` builds them): a size other
    than 28, 32, 64 or 128, ``channels`` other than 1 or 3 (None: not known yet), or at 28 colour or
    classes other than the 10 digits.

    Raises:
        GantoolError: one line naming the parameter and the sizes that have a layout.
    """
    if image_size not in (MNIST_SIZE, *SIZED_IMAGE_SIZES):
        raise GantoolError(f"`image_size` {image_size} has no DCGAN layout; choose {MNIST_SIZE} (the tutorial's "
                           f"MNIST DCGAN, greyscale) or one of {', '.join(map(str, SIZED_IMAGE_SIZES))}")
    if channels not in (None, 1, 3):
        raise GantoolError(f"`channels` must be 1 (greyscale) or 3 (colour), got {channels!r}")
    if image_size == MNIST_SIZE and channels == 3:
        raise GantoolError(f"`image_size` {MNIST_SIZE} is the MNIST DCGAN, greyscale only; choose `image_size` 32 "
                           "for colour images")
    if image_size == MNIST_SIZE and num_classes not in (0, MNIST_CLASSES):
        raise GantoolError(f"`image_size` {MNIST_SIZE} conditions on the {MNIST_CLASSES} digits only, not "
                           f"{num_classes} classes; choose `image_size` 32")


def arch_spec(name: str) -> ArchSpec:
    try:
        return ARCHS[name]
    except KeyError:
        raise GantoolError(f"unknown `arch` {name!r}; choose one of {', '.join(ARCHS)}") from None


def resolve_arch(arch: str | None, dataset: str | None) -> ArchSpec:
    """The arch for ``--arch``/``--dataset`` (either may be omitted); refuse pairs that do not fit."""
    if dataset is not None and dataset not in DATASETS:
        raise GantoolError(f"unknown `dataset` {dataset!r}; choose one of {', '.join(DATASETS)}")
    if arch is None:
        arch = "quadratic" if dataset == "quadratic" else "dcgan"
    spec = arch_spec(arch)
    if dataset is not None and dataset != spec.dataset:
        raise GantoolError(f"`arch` {arch} trains on {spec.dataset}, not `dataset` {dataset}")
    return spec


def help_table() -> str:
    width = max(map(len, ARCHS)) + 1
    return "\n".join(f"  {spec.name:<{width}} {spec.summary}" for spec in ARCHS.values())
