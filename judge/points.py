"""Judge a points model (the quadratic toy): closeness to y = x^2 and coverage of the x range.

The figures themselves are defined in :mod:`gantool.runtime.points`; this module samples a
generator, judges its points and presents the result (lines, a JSON dict, a scatter plot).

Example:
    >>> from gantool.runtime import Generator
    >>> report = evaluate_points(Generator.load("quadratic.onnx"), count=2000, seed=0)
    >>> print("\\n".join(report.lines()))
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gantool.errors import GantoolError
from gantool.runtime.points import COVERAGE_BINS, X_RANGE, PointQuality, quadratic_quality, scatter_plot

# The one toy dataset whose points can be judged without a classifier.
POINTS_DATASET = "quadratic"


@dataclasses.dataclass(frozen=True)
class PointsReport:
    """A points model's figures.

    Args:
        source: the judged model's path.
        seed: the latent seed.
        quality: closeness to the curve and coverage of the x range.
        points: the judged points, float32 ``(count, 2)``.
    """

    source: str
    seed: int
    quality: PointQuality
    points: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "seed": self.seed, "model": self.quality.to_dict()}

    def lines(self) -> list[str]:
        """The figures as aligned text, one per line."""
        quality = self.quality
        return [
            f"{self.source}: {quality.count} points, seed {self.seed}",
            f"mean |y - x^2| (0 = on the curve)      {quality.mean_abs_error:.4f}",
            f"x-range coverage ({COVERAGE_BINS} bins of {X_RANGE}) {quality.coverage:.2f}",
            f"points with x in range                 {quality.in_range:.3f}",
        ]

    def plot(self) -> np.ndarray:
        """An RGB scatter plot of the points against the curve."""
        return scatter_plot(self.points, title=f"{self.quality.count} points, seed {self.seed}")


def evaluate_points(generator, count: int, seed: int = 0) -> PointsReport:
    """Draw ``count`` points of ``generator`` (latent convention, ``seed``) and judge them.

    Raises:
        GantoolError: the model was not trained on the quadratic toy.
    """
    dataset = generator.contract.dataset
    if dataset != POINTS_DATASET:
        raise GantoolError(f"gantool judges digits and the {POINTS_DATASET} toy; {generator.path.name} was "
                           f"trained on {dataset!r}")
    points = generator.sample_float(count, seed)
    return PointsReport(str(generator.path), seed, quadratic_quality(points), points)
