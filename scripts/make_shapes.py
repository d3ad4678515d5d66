"""Draw synthetic 64x64 RGB pictures of coloured shapes, one sub-folder per shape: data for ``gantool train --data``.

Each picture is one filled shape (a disc, a square or a triangle, the class) of a random colour, size,
position and angle on a two-colour linear gradient (``--background gradient``, the default) or on one
plain colour (``--background flat``), drawn at 4x and reduced with Lanczos so its edges are smooth.
Picture ``i`` is a function of ``(seed, i)`` alone: the same seed gives the same bytes, and a larger
``--count`` adds pictures without changing the earlier ones. Classes take turns (picture ``i`` is
class ``i % 3``), so every class has the same share. Both backgrounds read the same random numbers, so
picture ``i`` has the same shape, size, place and colour on either: ``flat`` is the control that
tells whether the gradients are what a GAN fails on (docs/own_images.md, issue 34: they are not).
``--layout centred`` draws every shape in the middle at one size (circumradius 30% of the side, so a
disc spans 60% of the picture) and one angle (squares upright, triangles pointing up), like MNIST's
centred digits of one size; it reads the same random numbers as the default ``random`` layout, so
picture ``i`` keeps its class, background and colours: the control for the random place and size.

Example::

    python scripts/make_shapes.py /tmp/shapes64 --count 3000
    python scripts/make_shapes.py /tmp/shapes64c --count 3000 --layout centred --background flat
    gantool train --data /tmp/shapes64 --out runs/shapes --image-size 64

writes ``/tmp/shapes64/{disc,square,triangle}/00000.png`` ... (about 4 s per 1,000 on one core).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("disc", "square", "triangle")
SIZE = 64
SUPERSAMPLE = 4
MIN_CONTRAST = 120  # the shape's colour differs from the background's mean by at least this (sum over RGB)


BACKGROUNDS = ("gradient", "flat")
LAYOUTS = ("random", "centred")
CENTRED_RADIUS = 0.30  # ``--layout centred``: circumradius as a share of the side (a disc spans 60%)
CENTRED_ANGLES = {"disc": 0.0, "square": math.pi / 4, "triangle": -math.pi / 2}  # upright square, triangle apex up


def background(rng: np.random.Generator, side: int, kind: str = "gradient") -> np.ndarray:
    """A ``side`` x ``side`` RGB float array: two random colours blended along a random direction
    (``gradient``), or the first of them alone (``flat``). Both draw the same numbers from ``rng``, so
    what is drawn after them is the same."""
    start, end = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    if kind == "flat":
        return np.broadcast_to(start, (side, side, 3)).astype(np.float64)
    y, x = np.mgrid[0:side, 0:side] / (side - 1) - 0.5
    along = np.clip(0.5 + x * math.cos(angle) + y * math.sin(angle), 0, 1)[..., None]
    return start * (1 - along) + end * along


def shape_colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A random colour far enough from the background's mean to be seen."""
    mean = background.reshape(-1, 3).mean(axis=0)
    while True:
        colour = rng.integers(0, 256, 3)
        if np.abs(colour - mean).sum() >= MIN_CONTRAST:
            return tuple(int(c) for c in colour)


def draw_shape(draw: ImageDraw.ImageDraw, kind: str, centre: tuple[float, float], radius: float, angle: float,
               colour: tuple[int, int, int]) -> None:
    """One filled ``kind`` of circumradius ``radius`` around ``centre``, turned by ``angle`` (radians)."""
    cx, cy = centre
    if kind == "disc":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
        return
    corners = 4 if kind == "square" else 3
    points = [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
               cy + radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]
    draw.polygon(points, fill=colour)


def picture(seed: int, index: int, background_kind: str = "gradient", layout: str = "random") -> tuple[str, Image.Image]:
    """Picture ``index`` of ``seed``: its class name and the 64x64 RGB image (on a ``background_kind`` background;
    the shape at a random place, size and angle, or, ``layout="centred"``, in the middle at one size and angle)."""
    rng = np.random.default_rng([seed, index])
    kind = CLASSES[index % len(CLASSES)]
    side = SIZE * SUPERSAMPLE
    backdrop = background(rng, side, background_kind)
    image = Image.fromarray(np.rint(backdrop).astype(np.uint8))
    radius = rng.uniform(0.16, 0.34) * side
    centre = tuple(rng.uniform(radius + 2, side - radius - 2, 2))
    angle = rng.uniform(0, 2 * math.pi)
    if layout == "centred":  # the numbers above are still drawn, so the colour below is the random layout's
        radius, centre, angle = CENTRED_RADIUS * side, (side / 2, side / 2), CENTRED_ANGLES[kind]
    draw_shape(ImageDraw.Draw(image), kind, centre, radius, angle, shape_colour(rng, backdrop))
    return kind, image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write DIR/<class>/NNNNN.png into (created)")
    parser.add_argument("--count", type=int, default=3000, help="pictures in all (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every picture (default 0)")
    parser.add_argument("--background", choices=BACKGROUNDS, default="gradient",
                        help="a two-colour gradient (default), or one plain colour")
    parser.add_argument("--layout", choices=LAYOUTS, default="random",
                        help="each shape at a random place, size and angle (default), or centred at one size "
                             "(60%% of the picture) and angle")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    for kind in CLASSES:
        (args.out / kind).mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        kind, image = picture(args.seed, index, args.background, args.layout)
        image.save(args.out / kind / f"{index:05d}.png")
    print(f"Wrote {args.count} pictures of {', '.join(CLASSES)} ({SIZE}x{SIZE} RGB, {args.background} backgrounds, "
          f"{args.layout} layout, seed {args.seed}) into {args.out}")


if __name__ == "__main__":
    main()
