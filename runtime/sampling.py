"""What ``gantool sample`` draws: images, points, or digits asked for by class.

- An unconditional image model draws ``count`` samples of the latent convention.
- A conditional model (contract ``num_classes`` > 0) draws the digits asked for:
  ``digit=7`` gives ``count`` sevens, ``digits=[0..9]`` one row of ``per_row``
  samples per digit (latents of the convention, labels set accordingly).
- An unconditional model asked for digits *filters*: it draws samples of the
  convention in order and keeps those the shipped classifier calls the wanted
  digit, up to :data:`MAX_FILTER_FACTOR` times the samples kept; the result
  says how many it drew.
- A points model returns float points ``(count, dims)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gantool.errors import GantoolError

# Filtering draws at most this many samples per sample kept (a digit a model never draws fails fast).
MAX_FILTER_FACTOR = 50
FILTER_BATCH = 256


def parse_digits(text: str, num_classes: int = 10) -> list[int]:
    """``"0-9"``, ``"3,5,7"`` or ``"1-3,8"`` -> a list of digits (in the order given)."""
    digits: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            first, last = int(low), int(high) if high else int(low)
            if first > last:
                raise ValueError
            digits.extend(range(first, last + 1))
    except ValueError:
        raise GantoolError(f"--digits takes digits and ranges like 0-9 or 1,3,7; got {text!r}") from None
    if not digits or min(digits) < 0 or max(digits) >= num_classes:
        raise GantoolError(f"--digits must lie in 0..{num_classes - 1}; got {text!r}")
    return digits


@dataclasses.dataclass(frozen=True)
class Drawn:
    """Samples ready to save: uint8 images ``(n, H, W, C)`` or float32 points ``(n, dims)``.

    Args:
        samples: the array.
        cols: images per grid row.
        note: what was done beyond plain sampling (filtering, labels), for the user.
    """

    samples: np.ndarray
    cols: int
    note: str = ""


def check_digit(generator, digit: int) -> int:
    contract = generator.contract
    if not contract.is_image:
        raise GantoolError(f"{generator.path.name} draws {contract.output_kind}, not digits; drop --digit/--digits")
    classes = contract.num_classes or 10
    if not 0 <= digit < classes:
        raise GantoolError(f"--digit must be in 0..{classes - 1}, got {digit}")
    return digit


def draw(generator, count: int, seed: int, cols: int, digit: int | None = None,
         digits: list[int] | None = None) -> Drawn:
    """Samples of ``generator`` for ``gantool sample`` (see the module docstring)."""
    contract = generator.contract
    if not contract.is_image:
        if digit is not None or digits:
            check_digit(generator, 0)
        return Drawn(generator.sample_float(count, seed), cols)
    if digits:
        for d in digits:
            check_digit(generator, d)
        if contract.conditional:
            labels = np.repeat(np.asarray(digits, dtype=np.int32), cols)
            images = generator.sample(len(labels), seed, labels=labels)
            return Drawn(images, cols, f"one row per digit {digits[0]}..{digits[-1]}" if len(digits) > 1 else "")
        rows, notes = [], []
        for d in digits:
            images, drawn = filter_digit(generator, d, cols, seed)
            rows.append(images)
            notes.append(f"{d}: {drawn}")
        return Drawn(np.concatenate(rows), cols,
                     f"unconditional model: filtered with the shipped classifier, samples drawn per digit {', '.join(notes)}")
    if digit is not None:
        check_digit(generator, digit)
        if contract.conditional:
            return Drawn(generator.sample(count, seed, labels=digit), cols, f"label {digit}")
        images, drawn = filter_digit(generator, digit, count, seed)
        return Drawn(images, cols, f"unconditional model: filtered with the shipped classifier, "
                                   f"kept {count} of {drawn} samples it calls a {digit}")
    return Drawn(generator.sample(count, seed), cols)


def filter_digit(generator, digit: int, count: int, seed: int) -> tuple[np.ndarray, int]:
    """The first ``count`` samples (latent convention, ``seed``) the classifier calls ``digit``, and how many
    samples were drawn to find them."""
    from gantool.runtime.classifier import Classifier, to_classifier_input

    classifier = Classifier.load()
    limit = count * MAX_FILTER_FACTOR
    kept: list[np.ndarray] = []
    found = drawn = 0
    for batch in generator.iter_batches(limit, seed, FILTER_BATCH):
        logits, _ = classifier.run(to_classifier_input(batch, generator.contract.value_range))
        hits = generator.contract.to_uint8(batch[np.argmax(logits, axis=1) == digit])
        take = hits[: count - found]
        kept.append(take)
        found += len(take)
        drawn += len(batch)
        if found == count:
            # Count only the samples up to the last one kept.
            last = np.flatnonzero(np.argmax(logits, axis=1) == digit)[len(take) - 1]
            drawn = drawn - len(batch) + int(last) + 1
            return np.concatenate(kept), drawn
    raise GantoolError(f"the classifier called only {found} of {limit} samples a {digit}; "
                       f"this model rarely draws it (ask for fewer with --count)")
