"""Image grids and animations with Pillow: the pictures people look at."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence

import numpy as np

from gantool.errors import GantoolError
from gantool.runtime.files import write_bytes_atomic

# A grid PNG beyond this many images is too large to look at (and to hold in memory twice).
MAX_GRID_IMAGES = 10_000
# A grid beyond this many pixels (100 MB of grey pixels before --scale's colour-free copy and
# the PNG encoder's buffers) is refused before it is allocated, e.g. --scale 100000.
MAX_GRID_PIXELS = 100_000_000


def make_grid(images: np.ndarray, cols: int = 8, padding: int = 2, scale: int = 1) -> np.ndarray:
    """Tile uint8 images ``(count, height, width, channels)`` into one array.

    Args:
        images: uint8 NHWC images (channels 1 or 3).
        cols: images per row (at most ``count``).
        padding: black pixels between images and around the border.
        scale: integer upscaling factor (nearest neighbour), for readable small digits.

    Returns:
        A ``(H, W)`` uint8 array for one channel, ``(H, W, 3)`` for three.
    """
    if images.ndim != 4 or images.dtype != np.uint8:
        raise GantoolError(f"expected uint8 images (count, height, width, channels), got {images.dtype} {images.shape}")
    count, height, width, channels = images.shape
    if cols <= 0:
        raise GantoolError(f"`cols` must be a positive integer, got {cols}")
    if cols > count:
        raise GantoolError(f"`cols` {cols} is larger than `count` {count}; use `cols` {count} or fewer")
    rows = math.ceil(count / cols)
    size = ((rows * (height + padding) + padding) * scale, (cols * (width + padding) + padding) * scale)
    if size[0] * size[1] > MAX_GRID_PIXELS:
        raise GantoolError(f"the grid would be {size[1]} x {size[0]} pixels, above the limit of {MAX_GRID_PIXELS:,}; "
                           "lower `scale` or `count`")
    grid = np.zeros(
        (rows * (height + padding) + padding, cols * (width + padding) + padding, channels), dtype=np.uint8
    )
    for index in range(count):
        row, col = divmod(index, cols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid[..., 0] if channels == 1 else grid


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as PNG bytes (deterministic: no timestamps)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save a uint8 array as a PNG, atomically."""
    write_bytes_atomic(path, png_bytes(array))


def save_gif(path: str | os.PathLike[str], frames: Sequence[str | os.PathLike[str]], duration_ms: int = 300) -> None:
    """Animate PNG frames (e.g. one grid per epoch) into a looping GIF, atomically."""
    from PIL import Image

    if not frames:
        raise GantoolError("no frames to animate")
    # Grids of digits are grey; scatter plots keep their colours (GIF palettes hold 256 of them).
    opened = [Image.open(frame) for frame in frames]
    mode = "L" if all(image.mode in ("L", "1") for image in opened) else "RGB"
    images = [image.convert(mode) for image in opened]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    write_bytes_atomic(path, buffer.getvalue())
