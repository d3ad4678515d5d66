"""Reference statistics shipped beside the classifier, so evaluation needs no dataset.

``assets/classifier_stats.npz`` (read with ``allow_pickle=False``) holds:

- ``test_mean``, ``test_cov``: mean and covariance (``ddof=1``, float64) of the
  classifier's features over the 10,000 MNIST test digits: the FID reference;
- ``train_mean``, ``train_cov``: the same over the 60,000 training digits;
- ``meta``: one JSON string with the classifier file's SHA-256, its test
  accuracy, and the **real-data floor table**: the figures of real training
  digits (a seeded random subset of ``n``) judged exactly like a generator's
  output, for several ``n`` (FID depends on ``n``, so the floor must match it).

Built by ``gantool train-classifier`` (:func:`gantool.judge.floor.build_reference`), with the
shipped ONNX classifier itself, so the figures match what ``gantool eval`` computes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gantool.errors import ModelFileError
from gantool.runtime.classifier import asset_path
from gantool.runtime.files import write_bytes_atomic

STATS_NAME = "classifier_stats.npz"
STATS_VERSION = 1
FLOOR_COUNTS = (1000, 2000, 5000, 10000, 20000, 50000)
# Seed of the permutation that picks the training digits of the floor and the test digits of PRDC.
SUBSET_SEED = 0
ARRAY_KEYS = ("test_mean", "test_cov", "train_mean", "train_cov")


def subset_indices(total: int, count: int, seed: int = SUBSET_SEED) -> np.ndarray:
    """The first ``min(count, total)`` indices of a seeded permutation of ``range(total)``."""
    return np.random.default_rng(seed).permutation(total)[: min(count, total)]


@dataclasses.dataclass(frozen=True)
class ReferenceStats:
    """Feature statistics of real MNIST digits and the real-data floor table.

    Args:
        test_mean, test_cov: feature statistics of the MNIST test set (the FID reference).
        train_mean, train_cov: feature statistics of the MNIST training set.
        floor: ``{n: figures}`` of real training digits judged like generated ones (see module docstring).
        classifier_sha256: SHA-256 of the classifier file these statistics were made with.
        classifier_accuracy: its accuracy on the MNIST test set.
    """

    test_mean: np.ndarray
    test_cov: np.ndarray
    train_mean: np.ndarray
    train_cov: np.ndarray
    floor: dict[int, dict[str, Any]]
    classifier_sha256: str
    classifier_accuracy: float
    version: int = STATS_VERSION

    def floor_at(self, count: int) -> tuple[dict[str, Any], int]:
        """The floor figures for ``count`` samples: ``(figures, n)``, ``n == count`` when tabulated.

        When ``count`` is not in the table, the entry with the nearest ``n`` (in
        log scale) is returned; the caller must show that ``n``.
        """
        if count in self.floor:
            return self.floor[count], count
        nearest = min(self.floor, key=lambda n: abs(math.log(n) - math.log(max(count, 1))))
        return self.floor[nearest], nearest

    def save(self, path: str | Path) -> Path:
        """Write the statistics as a compressed ``.npz`` (no pickled objects), atomically."""
        meta = {
            "version": self.version,
            "classifier_sha256": self.classifier_sha256,
            "classifier_accuracy": self.classifier_accuracy,
            "floor_subset_seed": SUBSET_SEED,
            "floor": {str(n): figures for n, figures in sorted(self.floor.items())},
        }
        buffer = io.BytesIO()
        arrays = {key: np.asarray(getattr(self, key), dtype=np.float64) for key in ARRAY_KEYS}
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
        return write_bytes_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReferenceStats:
        """Read statistics from ``path``, or the ones bundled with the runtime when None.

        Raises:
            ModelFileError: the file is missing, not an npz, or lacks a field.
        """
        source = Path(path) if path is not None else asset_path(STATS_NAME)
        hint = "rebuild it with `gantool train-classifier --data mnist.npz --out runtime/assets`"
        if not source.is_file():
            raise ModelFileError(f"reference statistics {source} do not exist; {hint}")
        try:
            with np.load(source, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in ARRAY_KEYS}
                meta = json.loads(str(npz["meta"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{source} is not valid reference statistics ({type(exc).__name__}: {str(exc)[:100]}); {hint}") from None
        if meta.get("version") != STATS_VERSION:
            raise ModelFileError(f"{source} has statistics version {meta.get('version')}, expected {STATS_VERSION}; {hint}")
        floor = {int(n): figures for n, figures in meta["floor"].items()}
        return cls(**arrays, floor=floor, classifier_sha256=meta["classifier_sha256"],
                   classifier_accuracy=float(meta["classifier_accuracy"]))
