"""How ``gantool bench`` measures: :class:`BenchOptions`, and the parsing of its batches and formats.

Kept apart from :mod:`gantool.bench.benchmark` (which runs the measurements) and
:mod:`gantool.bench.results` (which holds and prints them), both of which read these options.
"""

from __future__ import annotations

import dataclasses

from gantool.errors import GantoolError, UnsupportedFormatError
from gantool.export.registry import REGISTRY, FormatEntry, entries_for, lookup, supported_pairs
from gantool.judge.evaluate import MAX_COUNT as MAX_QUALITY_COUNT
from gantool.judge.evaluate import MIN_COUNT as MIN_QUALITY_COUNT
from gantool.runtime.backends.base import cpu_count

DEFAULT_BATCHES = (1, 64)
DEFAULT_REPEATS = 50
DEFAULT_WARMUP = 5
DEFAULT_QUALITY_COUNT = 2000
MAX_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """How to measure.

    Args:
        batches: batch sizes; latency is reported at the smallest, throughput at every other.
        threads: inference threads (None: every core this process may use).
        repeats: timed calls per batch size (after :data:`DEFAULT_WARMUP` untimed ones).
        quality_count: digits judged for FID and MNIST score; 0 skips quality.
        floor: least acceptable throughput (img/s) at the largest batch, or None.
        spin_wait: let onnxruntime's idle worker threads spin between operators.
    """

    batches: tuple[int, ...] = DEFAULT_BATCHES
    threads: int | None = None
    repeats: int = DEFAULT_REPEATS
    quality_count: int = DEFAULT_QUALITY_COUNT
    floor: float | None = None
    spin_wait: bool = True

    def __post_init__(self) -> None:
        if not self.batches or any(not 1 <= b <= MAX_BATCH for b in self.batches):
            raise GantoolError(f"`batches` must be integers between 1 and {MAX_BATCH}, got {list(self.batches)}")
        object.__setattr__(self, "batches", tuple(sorted(set(self.batches))))
        if self.threads is not None and self.threads < 1:
            raise GantoolError(f"`threads` must be a positive integer, got {self.threads}")
        if self.repeats < 1:
            raise GantoolError(f"`repeats` must be a positive integer, got {self.repeats}")
        if self.quality_count and self.quality_count < MIN_QUALITY_COUNT:
            raise GantoolError(f"`quality_count` must be at least {MIN_QUALITY_COUNT} (the MNIST score uses 10 splits), "
                               f"got {self.quality_count}")
        if self.quality_count > MAX_QUALITY_COUNT:
            raise GantoolError(f"`quality_count` {self.quality_count} is above the limit of {MAX_QUALITY_COUNT} digits "
                               f"judged per format (gantool eval's); use `quality_count` {MAX_QUALITY_COUNT} or fewer")
        if self.floor is not None and not self.floor > 0:
            raise GantoolError(f"`floor` must be a positive number of images per second, got {self.floor}")

    @property
    def resolved_threads(self) -> int:
        return self.threads or cpu_count()


def parse_batches(text: str) -> tuple[int, ...]:
    """``"1,64"`` -> ``(1, 64)``."""
    try:
        batches = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise GantoolError(f"`batches` must be comma-separated integers, e.g. 1,64; got {text!r}") from None
    if any(b < 1 for b in batches):
        raise GantoolError(f"`batches` must be positive integers, got {text!r}")
    return batches


def parse_formats(text: str) -> tuple[FormatEntry, ...]:
    """``all``, a format (``tflite``) or ``format/quantize`` pairs (``onnx/none,tflite/int8``) -> entries.

    Raises:
        UnsupportedFormatError: a pair that is not in the registry.
    """
    if text.strip() == "all":
        return REGISTRY
    chosen: list[FormatEntry] = []
    for part in (p.strip() for p in text.split(",")):
        format_name, _, quantize = part.partition("/")
        if not quantize and entries_for(format_name):
            found = entries_for(format_name)
        else:
            try:
                found = (lookup(format_name, quantize or "none"),)
            except UnsupportedFormatError:
                raise UnsupportedFormatError(
                    f"`formats` {part!r} is not a registry pair; use all, onnx, tflite or any of: {supported_pairs()}"
                ) from None
        chosen.extend(e for e in found if e not in chosen)
    return tuple(e for e in REGISTRY if e in chosen)
