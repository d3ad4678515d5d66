"""Pairing a generator with the classifier that judges it.

Whether the classifier can take the generator's samples (:func:`check_shapes`), whether their
classes line up (:func:`same_classes`), and which class each sample was asked to be
(:func:`asked_digits`), so that ``gantool eval`` can report how often a conditional generator obliged.
"""

from __future__ import annotations

import numpy as np

from gantool.errors import GantoolError
from gantool.runtime.classifier import Classifier, describe_shape


def check_shapes(generator, classifier: Classifier) -> None:
    """Refuse a generator whose samples the classifier cannot take (another size or channel count, or points)."""
    contract = generator.contract
    if contract.is_image and tuple(contract.image_shape) == tuple(classifier.image_shape):
        return
    makes = (f"{describe_shape(contract.image_shape)} images" if contract.is_image
             else f"{contract.output_kind} {contract.output_shape}")
    if classifier.bundled:
        raise GantoolError(f"the MNIST classifier judges 28x28x1 digits; {generator.path} makes {makes}: pass "
                           "`classifier` (gantool train-classifier --data DIR makes one for your images)")
    raise GantoolError(f"`classifier` {classifier.path} judges {describe_shape(classifier.image_shape)} images; "
                       f"{generator.path} makes {makes}: pass a classifier trained on images of its size and channels")


def same_classes(contract, classifier: Classifier) -> bool:
    """True when the generator's class k is the classifier's class k, for each of its classes: by name, a class
    without a name being its digit (MNIST's, on either side)."""
    theirs = classifier.class_names or tuple(str(k) for k in range(classifier.num_classes))
    ours = contract.class_names or tuple(str(k) for k in range(contract.num_classes or contract.digit_code))
    return tuple(ours) == tuple(theirs[:len(ours)])


# How a generator was told the digit to draw, as eval reports it.
ASKED = {"labels": "the requested digit (labels 0..9 in turn)", "code": "the digit each latent names (its digit code)"}
ASKED_CLASS = {"labels": "the requested class (each label in turn)", "code": "the class each latent names (its code)"}


def asked_digits(contract, count: int, seed: int) -> tuple[np.ndarray | None, str]:
    """The digit each of ``count`` samples (latent convention, ``seed``) was asked to be, and how it was asked.

    A conditional generator is sampled with the convention's labels (each digit count/10 times);
    a generator with a digit code draws the argmax of each latent's code; any other: (None, "").
    """
    asked = ASKED_CLASS if contract.class_names else ASKED
    if contract.conditional:
        return contract.default_labels(count), asked["labels"]
    if contract.digit_code:
        from gantool.runtime.contract import latents

        return np.argmax(latents(count, contract.latent_dim, seed)[:, :contract.digit_code], axis=1), asked["code"]
    return None, ""
