"""Quality metrics for generated digits, computed on the classifier's outputs. Numpy only.

All functions take plain arrays: ``features`` ``(n, d)`` and class
probabilities ``(n, 10)`` from :class:`gantool.runtime.classifier.Classifier`.

- **Classifier-FID** (Heusel et al. 2017, with the MNIST classifier's features
  in place of Inception's)::

      FID = |mu_1 - mu_2|^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2))

  where ``mu``, ``S`` are the feature mean and covariance (``ddof=1``). The
  trace of the matrix square root is computed without scipy:
  ``S_1 S_2`` is similar to the symmetric PSD matrix ``S_1^(1/2) S_2 S_1^(1/2)``,
  so ``Tr((S_1 S_2)^(1/2))`` is the sum of the square roots of that matrix's
  eigenvalues (``numpy.linalg.eigh``). FID is biased upwards by roughly
  ``c / n`` for ``n`` samples: only compare figures computed at the same ``n``.
- **MNIST score**, the Inception Score with the MNIST classifier
  (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` over each of 10
  consecutive splits; reported as mean and standard deviation (``ddof=0``)
  over the splits. Ranges from 1 (one class, or no confidence) to 10.
- **Class histogram**: the share of each predicted class, its KL divergence to
  the uniform distribution (``sum p log(10 p)``, 0 for perfect balance,
  ``log 10 = 2.30`` for a single class) and the smallest share: the mode-collapse alarm.
- **Precision / recall** (Kynkäänniemi et al. 2019, ``k = 3``) and
  **density / coverage** (Naeem et al. 2020, ``k = 5``) on the features,
  following the reference ``prdc`` package (strict ``<`` against the distance to
  the k-th nearest neighbour, the point itself excluded). Distances are computed
  in chunks of rows, so 10,000 x 10,000 needs ~40 MB at a time.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from gantool.errors import GantoolError

MNIST_SCORE_SPLITS = 10
PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5
DISTANCE_CHUNK = 1024


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` (``ddof=1``) of ``features`` in float64."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or len(array) < 2:
        raise GantoolError(f"FID needs at least 2 feature vectors (n, d); got shape {array.shape}")
    return array.mean(axis=0), np.cov(array, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(cov_1: np.ndarray, cov_2: np.ndarray) -> float:
    """``Tr((S_1 S_2)^(1/2))`` via the eigenvalues of ``S_1^(1/2) S_2 S_1^(1/2)``."""
    root = _sqrt_psd(np.asarray(cov_1, dtype=np.float64))
    middle = root @ np.asarray(cov_2, dtype=np.float64) @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sum(np.sqrt(np.clip(values, 0.0, None))))


def frechet_distance(mean_1, cov_1, mean_2, cov_2) -> float:
    """The Fréchet distance between two Gaussians (the FID formula, see module docstring)."""
    mean_1, mean_2 = np.asarray(mean_1, dtype=np.float64), np.asarray(mean_2, dtype=np.float64)
    cov_1, cov_2 = np.asarray(cov_1, dtype=np.float64), np.asarray(cov_2, dtype=np.float64)
    if mean_1.shape != mean_2.shape or cov_1.shape != cov_2.shape or cov_1.shape != (len(mean_1), len(mean_1)):
        raise GantoolError(f"FID statistics disagree in shape: {mean_1.shape}, {cov_1.shape} vs {mean_2.shape}, {cov_2.shape}")
    diff = mean_1 - mean_2
    distance = diff @ diff + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_sqrt_product(cov_1, cov_2)
    # Round-off can leave a tiny negative number for identical statistics.
    return max(float(distance), 0.0)


def fid(features: np.ndarray, reference_mean, reference_cov) -> float:
    """Classifier-FID of ``features`` against reference statistics (depends on ``len(features)``)."""
    mean, cov = feature_stats(features)
    return frechet_distance(mean, cov, reference_mean, reference_cov)


def mnist_score(probs: np.ndarray, splits: int = MNIST_SCORE_SPLITS) -> tuple[float, float]:
    """Inception Score with the MNIST classifier: ``(mean, sd)`` over ``splits`` consecutive splits.

    Args:
        probs: class probabilities ``(n, classes)``, rows summing to 1.
        splits: number of consecutive, (nearly) equal parts; ``n >= splits``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) < splits:
        raise GantoolError(f"the MNIST score needs at least {splits} samples (n, classes); got shape {probs.shape}")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(math.exp(float(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


@dataclasses.dataclass(frozen=True)
class ClassBalance:
    """How predicted classes are spread: the mode-collapse alarm.

    Args:
        counts: samples predicted as each class.
        shares: ``counts / n``.
        kl_to_uniform: ``sum p log(classes * p)``; 0 when balanced, ``log(classes)`` for one class.
        min_share: the smallest share (0 when a class never appears).
    """

    counts: tuple[int, ...]
    shares: tuple[float, ...]
    kl_to_uniform: float
    min_share: float


def class_balance(probs: np.ndarray) -> ClassBalance:
    """Histogram of argmax classes of ``probs`` ``(n, classes)``, its KL to uniform and smallest share."""
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) == 0:
        raise GantoolError(f"class balance needs class scores (n, classes); got shape {probs.shape}")
    classes = probs.shape[1]
    counts = np.bincount(np.argmax(probs, axis=1), minlength=classes)
    shares = counts / counts.sum()
    return ClassBalance(
        counts=tuple(int(c) for c in counts),
        shares=tuple(float(s) for s in shares),
        kl_to_uniform=kl_to_uniform(shares),
        min_share=float(shares.min()),
    )


def kl_to_uniform(shares: np.ndarray) -> float:
    """``KL(p || uniform) = sum_{p > 0} p log(k p)`` for a distribution ``p`` over ``k`` classes."""
    shares = np.asarray(shares, dtype=np.float64)
    positive = shares[shares > 0]
    return float(np.sum(positive * np.log(len(shares) * positive)))


def _squared_distances(rows: np.ndarray, columns: np.ndarray, column_norms: np.ndarray) -> np.ndarray:
    """``|r - c|^2`` for every pair, clipped at 0 (float32 round-off)."""
    row_norms = np.einsum("ij,ij->i", rows, rows)
    out = row_norms[:, None] + column_norms[None, :] - 2.0 * (rows @ columns.T)
    return np.maximum(out, 0.0, out=out)


def knn_radii(features: np.ndarray, ks: tuple[int, ...], chunk: int = DISTANCE_CHUNK) -> dict[int, np.ndarray]:
    """Squared distance from each point to its k-th nearest other point, for each ``k`` in ``ks``."""
    if len(features) <= max(ks):
        raise GantoolError(f"k-nearest neighbours with k={max(ks)} needs more than {max(ks)} samples; got {len(features)}")
    norms = np.einsum("ij,ij->i", features, features)
    radii = {k: np.empty(len(features), dtype=np.float32) for k in ks}
    for start in range(0, len(features), chunk):
        block = _squared_distances(features[start : start + chunk], features, norms)
        # Column 0 of the sorted row is the point itself (distance 0), so index k is the k-th neighbour.
        nearest = np.partition(block, list(ks), axis=1)
        for k in ks:
            radii[k][start : start + chunk] = nearest[:, k]
    return radii


@dataclasses.dataclass(frozen=True)
class Prdc:
    """Precision, recall (k=3), density and coverage (k=5) of fake features against real ones."""

    precision: float
    recall: float
    density: float
    coverage: float
    real_count: int
    fake_count: int


def prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = PRECISION_RECALL_K, k_dc: int = DENSITY_COVERAGE_K,
         chunk: int = DISTANCE_CHUNK) -> Prdc:
    """Precision/recall (Kynkäänniemi 2019) and density/coverage (Naeem 2020) on feature vectors.

    - precision: share of fakes inside some real point's k_pr-NN ball;
    - recall: share of reals inside some fake point's k_pr-NN ball;
    - density: mean number of real k_dc-NN balls holding each fake, divided by k_dc;
    - coverage: share of reals whose k_dc-NN ball holds at least one fake.
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise GantoolError(f"PRDC needs two feature sets (n, d) of equal width; got {real.shape} and {fake.shape}")
    # Centring on the real mean keeps float32 norms small, so |a|^2 + |b|^2 - 2ab stays accurate.
    center = real.mean(axis=0)
    real = (real - center).astype(np.float32)
    fake = (fake - center).astype(np.float32)
    real_radii = knn_radii(real, (k_pr, k_dc), chunk)
    fake_radii = knn_radii(fake, (k_pr,), chunk)[k_pr]
    real_norms = np.einsum("ij,ij->i", real, real)
    in_real_ball = np.zeros(len(fake), dtype=bool)
    density_hits = 0
    real_covered = np.zeros(len(real), dtype=bool)
    real_recalled = np.zeros(len(real), dtype=bool)
    for start in range(0, len(fake), chunk):
        block = _squared_distances(fake[start : start + chunk], real, real_norms)  # (fakes, reals)
        in_real_ball[start : start + chunk] = (block < real_radii[k_pr][None, :]).any(axis=1)
        density_hits += int((block < real_radii[k_dc][None, :]).sum())
        real_covered |= (block < real_radii[k_dc][None, :]).any(axis=0)
        real_recalled |= (block < fake_radii[start : start + chunk, None]).any(axis=0)
    return Prdc(
        precision=float(in_real_ball.mean()),
        recall=float(real_recalled.mean()),
        density=density_hits / (k_dc * len(fake)),
        coverage=float(real_covered.mean()),
        real_count=len(real),
        fake_count=len(fake),
    )
