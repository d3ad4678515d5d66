"""What ``gantool sample`` draws: images, points, or digits asked for by class.

- An unconditional image model draws ``count`` samples of the latent convention.
- A conditional model (contract ``num_classes`` > 0) draws the digits asked for:
  ``digit=7`` gives ``count`` sevens, ``digits=[0..9]`` one row of ``per_row``
  samples per digit (latents of the convention, labels set accordingly).
- An unconditional model whose latent names its digit (contract ``digit_code``: the
  default recipe's) draws latents of the convention set to name the digit asked for
  (:func:`gantool.runtime.contract.name_digit`).
- Any other unconditional model asked for digits *filters*: it draws samples of the
  convention in order and keeps those the shipped classifier calls the wanted
  digit, up to :data:`MAX_FILTER_FACTOR` times the samples kept; the result
  says how many it drew.
- A points model returns float points ``(count, dims)``.

A model whose contract names its classes (``class_names``: trained on a folder with one sub-folder
per class) is asked for a class by name (``label="cat"``, :func:`resolve_label`); ``digit`` and
``digits`` stay for models whose classes are digits.

:func:`sample_to_files` is ``gantool sample`` as a function: it checks the request, draws,
and writes the grid (or scatter plot) and the ``.npy`` file.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError

# Filtering draws at most this many samples per sample kept (a digit a model never draws fails fast).
MAX_FILTER_FACTOR = 50
FILTER_BATCH = 256
DEFAULT_COUNT = 64
# Samples per digit of a ``digits`` table when ``cols`` is not given.
DIGITS_COLS = 8


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
        raise GantoolError(f"`digits` takes digits and ranges like 0-9 or 1,3,7; got {text!r}") from None
    if not digits or min(digits) < 0 or max(digits) >= num_classes:
        raise GantoolError(f"`digits` must lie in 0..{num_classes - 1}; got {text!r}")
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


def resolve_label(contract, label: str) -> int:
    """The class index ``label`` names: one of the contract's ``class_names``, or, for a model whose classes
    have no names (MNIST's), a class index written as a number.

    Raises:
        GantoolError: an unknown name (the message lists the names), or a model without classes.
    """
    names = contract.class_names
    text = str(label).strip()
    if names:
        if text not in names:
            raise GantoolError(f"`label` {text!r} is not a class of this model; its classes: {', '.join(names)}")
        return names.index(text)
    if not (contract.num_classes or contract.digit_code or contract.draws_digits):
        raise GantoolError("this model draws no classes; drop `label`")
    try:
        return int(text)
    except ValueError:
        classes = contract.num_classes or contract.digit_code or 10
        raise GantoolError(f"`label` {text!r}: this model's classes have no names, they are the digits "
                           f"0..{classes - 1}; pass one of them") from None


def check_digits_are_classes(contract) -> None:
    """Refuse ``digit``/``digits`` for a model whose classes are named otherwise (it takes ``label``)."""
    if not contract.classes_are_digits:
        raise GantoolError(f"this model's classes are not digits but {', '.join(contract.class_names)}; "
                           "ask for one with `label` NAME")


def check_digit(generator, digit: int) -> int:
    contract = generator.contract
    if not contract.is_image:
        raise GantoolError(f"{generator.path.name} draws {contract.output_kind}, not digits; drop `digit`/`digits`")
    if not (contract.num_classes or contract.digit_code or contract.draws_digits):
        shape = "x".join(map(str, contract.output_shape))
        raise GantoolError(f"{generator.path.name} takes no class label and draws {shape} images, which the shipped "
                           "classifier (28x28 grey digits) cannot sort; drop `digit`/`digits`")
    classes = contract.num_classes or contract.digit_code or 10
    if not 0 <= digit < classes:
        raise GantoolError(f"`digit` must be in 0..{classes - 1}, got {digit}")
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
        if contract.digit_code:
            return Drawn(np.concatenate([named(generator, d, cols, seed) for d in digits]), cols,
                         "latents set to name each digit (the model's digit code)")
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
            return Drawn(generator.sample(count, seed, labels=digit), cols, f"label {contract.class_word(digit)}")
        if contract.digit_code:
            kind = "class" if contract.class_names else "digit"
            return Drawn(named(generator, digit, count, seed), cols,
                         f"latents set to name {kind} {contract.class_word(digit)} (the model's {kind} code)")
        images, drawn = filter_digit(generator, digit, count, seed)
        return Drawn(images, cols, f"unconditional model: filtered with the shipped classifier, "
                                   f"kept {count} of {drawn} samples it calls a {digit}")
    return Drawn(generator.sample(count, seed), cols)


def named(generator, digit: int, count: int, seed: int) -> np.ndarray:
    """``count`` samples (uint8) from latents of the convention (``seed``) set to name ``digit``."""
    from gantool.runtime.contract import name_digit
    from gantool.runtime.generator import check_in_memory

    check_in_memory(count)
    z = name_digit(generator.latents(count, seed), digit, generator.contract.digit_code)
    return generator.contract.to_uint8(generator.generate(z))


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
                       f"this model rarely draws it (ask for fewer with `count`)")


@dataclasses.dataclass(frozen=True)
class Written:
    """What :func:`sample_to_files` wrote.

    Args:
        paths: the files written (grid or plot PNG, ``.npy``).
        count: samples drawn.
        what: ``digits`` (a 28x28 grey model of digits), ``images`` (any other image model) or ``points``.
        model: the model file's name.
        notes: what the user should know beyond that (how the contract was found, filtering).
    """

    paths: tuple[Path, ...]
    count: int
    what: str
    model: str
    notes: tuple[str, ...] = ()


def default_cols(count: int) -> int:
    """Grid columns when none are asked for: the smallest square-ish grid (8 for 64 images, 4 for 16)."""
    return max(1, math.ceil(math.sqrt(count)))


def _check_request(out, npy, count: int | None, cols: int | None, digit: int | None, digits: str | None,
                   scale: int, label: str | None = None) -> tuple[int, int, list[int] | None]:
    """The number of samples to draw, the grid's columns and the parsed ``digits``, once the request makes sense."""
    from gantool.runtime.images import MAX_GRID_IMAGES

    if out is None and npy is None:
        raise GantoolError("nothing to write: pass `out` (a grid PNG) and/or `npy` (the samples as .npy)")
    if digit is not None and digits is not None:
        raise GantoolError("pass `digit` or `digits`, not both")
    if label is not None and (digit is not None or digits is not None):
        raise GantoolError("pass `label` or `digit`/`digits`, not both")
    if digits is not None and count is not None:
        raise GantoolError("`digits` draws one row per digit; set the samples per digit with `cols`, not `count`")
    digit_list = parse_digits(digits) if digits is not None else None
    if digit_list and cols is None:
        cols = DIGITS_COLS
    if cols is not None and cols <= 0:
        raise GantoolError(f"`cols` must be a positive integer, got {cols}")
    count = len(digit_list) * cols if digit_list else (DEFAULT_COUNT if count is None else count)
    if count <= 0:
        raise GantoolError(f"`count` must be a positive integer, got {count}")
    cols = default_cols(count) if cols is None else cols
    if out is not None and count > MAX_GRID_IMAGES:
        raise GantoolError(f"a grid of {count} digits is too large to look at (limit {MAX_GRID_IMAGES}); "
                           "write them with `npy` instead, or lower `count`")
    if out is not None and cols > count:
        raise GantoolError(f"`cols` must be between 1 and `count` ({count}), got {cols}")
    if scale <= 0:
        raise GantoolError(f"`scale` must be a positive integer, got {scale}")
    return count, cols, digit_list


def sample_to_files(model: str | Path | None = None, out: str | Path | None = None, npy: str | Path | None = None,
                    count: int | None = None, seed: int = 0, cols: int | None = None, digit: int | None = None,
                    digits: str | None = None, threads: int | None = None, scale: int = 1,
                    label: str | None = None) -> Written:
    """Draw from ``model`` and write a PNG grid (a scatter plot for points) to ``out`` and/or the samples to ``npy``.

    Args:
        model: an exported model, or None / a bundled name (see :meth:`gantool.runtime.Generator.load`).
        out: the PNG to write.
        npy: the ``.npy`` to write: uint8 images ``(count, H, W, C)`` or float32 points ``(count, dims)``.
        count: samples (default 64); with ``digits``, ``cols`` per digit instead.
        seed: latent seed.
        cols: images per grid row (with ``digits``: samples per digit, default 8); None: the count's
            square root, rounded up.
        digit: only this digit (a conditional model is asked for it, one whose latent names its digit
            gets latents set to name it, any other one is filtered).
        digits: one row per digit, e.g. ``0-9`` or ``1,3,7``.
        threads: inference threads.
        scale: integer upscaling of the grid.
        label: only this class, by its name in the contract's ``class_names`` (a model without names:
            its index); drawn as ``digit`` is.

    Raises:
        GantoolError: the request makes no sense, a path cannot be written, or the model cannot be run.
    """
    from gantool.runtime.files import atomic_path, check_output_path, write_bytes_atomic
    from gantool.runtime.generator import Generator
    from gantool.runtime.images import make_grid, png_bytes, save_png

    count, cols, digit_list = _check_request(out, npy, count, cols, digit, digits, scale, label)
    paths = tuple(Path(path) for path in (out, npy) if path is not None)
    for path in paths:
        check_output_path(path)
    # One run per 256 digits: spinning worker threads would only burn CPU the PNG encoder needs.
    generator = Generator.load(model, threads=threads, spin_wait=False)
    if digit is not None or digit_list:
        check_digits_are_classes(generator.contract)
    if label is not None:
        digit = resolve_label(generator.contract, label)
    drawn = draw(generator, count, seed, cols, digit=digit, digits=digit_list)
    if npy is not None:
        with atomic_path(npy) as tmp:
            np.save(tmp, drawn.samples, allow_pickle=False)
    if out is not None:
        if generator.contract.is_image:
            save_png(out, make_grid(drawn.samples, cols=drawn.cols, scale=scale))
        else:
            from gantool.runtime.points import scatter_plot

            write_bytes_atomic(out, png_bytes(scatter_plot(drawn.samples, title=f"{count} points, seed {seed}")))
    notes = tuple(note for note in (generator.contract_note, drawn.note) if note)
    what = "points" if not generator.contract.is_image else "digits" if generator.contract.is_digit_model else "images"
    return Written(paths, count, what, generator.path.name, notes)
