"""The architectures ``gantool train --arch`` knows: one table, read by the CLI, trainer and contract.

Adding a GAN is one builder pair in :mod:`gantool.train.models` and one row in
:data:`ARCHS`; the runtime needs nothing new as long as its output is an image
or a point and its only extra input is a class label.
"""

from __future__ import annotations

import dataclasses

from gantool.errors import GantoolError
from gantool.runtime.contract import DEFAULT_VALUE_RANGE


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """What one architecture trains on and gives (its training settings are recipes:
    :mod:`gantool.train.recipes`).

    Args:
        name: ``--arch`` value.
        dataset: ``mnist`` or ``quadratic``.
        output_kind: ``image`` or ``points`` (see :data:`gantool.runtime.contract.OUTPUT_KINDS`).
        output_shape: one sample's shape.
        value_range: range of outputs (the plotting window for points).
        num_classes: classes of the label input (0: unconditional).
        summary: one line for ``--help``.
    """

    name: str
    dataset: str
    output_kind: str
    output_shape: tuple[int, ...]
    value_range: tuple[float, float]
    num_classes: int
    summary: str


ARCHS: dict[str, ArchSpec] = {spec.name: spec for spec in (
    ArchSpec("dcgan", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 0,
             "TensorFlow DCGAN tutorial (Dense 7x7x256, 3 Conv2DTranspose; Conv2D 64/128 + dropout critic)"),
    ArchSpec("mlp", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 0,
             "Keras-MNIST-GAN fully connected GAN (Dense 256/512/1024 + BN; Dense 512/256 + dropout critic)"),
    ArchSpec("cdcgan", "mnist", "image", (28, 28, 1), DEFAULT_VALUE_RANGE, 10,
             "conditional DCGAN: label embedding joined to z; critic with label plane + projection; sample --digit 7"),
    ArchSpec("quadratic", "quadratic", "points", (2,), (-0.5, 0.5), 0,
             "1-D toy GAN learning points (x, x^2), x in [-0.5, 0.5]; converges in seconds"),
)}
DATASETS = ("mnist", "quadratic")


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
    return "\n".join(f"  {spec.name:<10} {spec.summary}" for spec in ARCHS.values())
