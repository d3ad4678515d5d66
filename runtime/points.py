"""Point generators (the quadratic toy GAN): their quality figures and their scatter plot.

The toy learns points ``(x, x**2)`` with ``x`` uniform in ``[-0.5, 0.5]``. Its
quality is measured directly on the data, no classifier needed:

- ``mean_abs_error``: mean ``|y - x**2|`` over the generated points (0 on the curve);
- ``coverage``: the share of :data:`COVERAGE_BINS` equal bins of the x range that hold at
  least half the points a uniform spread would put there (1.0: the whole range is drawn);
- ``in_range``: the share of points whose x lies in the range.

The plot is drawn with Pillow only (no matplotlib): the true curve, the real
points when given, and the generated points.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gantool.errors import GantoolError

X_RANGE = (-0.5, 0.5)
COVERAGE_BINS = 10
PLOT_SIZE = 480
MARGIN = 40
# Plot window: x over the data range plus a margin, y from below 0 to above 0.25.
WINDOW = ((-0.6, 0.6), (-0.05, 0.3))
CURVE = (40, 40, 40)
REAL = (60, 120, 220)
FAKE = (220, 60, 40)


def real_points(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` real samples ``(x, x**2)``, x uniform in :data:`X_RANGE`, float32."""
    x = rng.uniform(*X_RANGE, size=count).astype(np.float32)
    return np.stack([x, x * x], axis=1)


@dataclasses.dataclass(frozen=True)
class PointQuality:
    """How close generated points lie to y = x^2 and how much of the x range they cover."""

    count: int
    mean_abs_error: float
    coverage: float
    in_range: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def quadratic_quality(points: np.ndarray) -> PointQuality:
    """Judge generated points ``(count, 2)`` against the curve y = x^2 (see the module docstring)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise GantoolError(f"expected points of shape (count, 2), got {points.shape}")
    x, y = points[:, 0], points[:, 1]
    low, high = X_RANGE
    inside = (x >= low) & (x <= high)
    counts, _ = np.histogram(x[inside], bins=COVERAGE_BINS, range=X_RANGE)
    expected = len(points) / COVERAGE_BINS
    return PointQuality(
        count=len(points),
        mean_abs_error=float(np.mean(np.abs(y - x * x))),
        coverage=float(np.mean(counts >= 0.5 * expected)),
        in_range=float(inside.mean()),
    )


def scatter_plot(points: np.ndarray, real: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """An RGB uint8 picture of the generated points (red), the real ones (blue) and y = x^2 (line)."""
    from PIL import Image, ImageDraw

    (x0, x1), (y0, y1) = WINDOW
    inner = PLOT_SIZE - 2 * MARGIN

    def to_pixel(x, y):
        return MARGIN + (x - x0) / (x1 - x0) * inner, PLOT_SIZE - MARGIN - (y - y0) / (y1 - y0) * inner

    image = Image.new("RGB", (PLOT_SIZE, PLOT_SIZE), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([MARGIN, MARGIN, PLOT_SIZE - MARGIN, PLOT_SIZE - MARGIN], outline=(160, 160, 160))
    for value in (-0.5, 0.0, 0.5):  # x ticks
        px, _ = to_pixel(value, y0)
        draw.line([px, PLOT_SIZE - MARGIN, px, PLOT_SIZE - MARGIN + 5], fill=CURVE)
        draw.text((px - 10, PLOT_SIZE - MARGIN + 8), f"{value:g}", fill=CURVE)
    for value in (0.0, 0.25):  # y ticks
        _, py = to_pixel(x0, value)
        draw.line([MARGIN - 5, py, MARGIN, py], fill=CURVE)
        draw.text((4, py - 6), f"{value:g}", fill=CURVE)
    xs = np.linspace(*X_RANGE, 200)
    draw.line([to_pixel(x, x * x) for x in xs], fill=CURVE, width=2)
    for cloud, colour in ((real, REAL), (points, FAKE)):
        if cloud is None:
            continue
        for x, y in np.asarray(cloud, dtype=np.float64)[:, :2]:
            if x0 <= x <= x1 and y0 <= y <= y1:
                px, py = to_pixel(x, y)
                draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
    legend = "red: generated" + ("   blue: real" if real is not None else "") + "   line: y = x^2"
    draw.text((MARGIN, 12), f"{title}   {legend}".strip(), fill=CURVE)
    return np.asarray(image)
