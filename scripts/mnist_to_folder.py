"""Write MNIST's training digits from a Keras ``mnist.npz`` as PNG files, one folder per digit.

The layout ``gantool train --data DIR`` reads as labeled images (PyTorch's ImageFolder):
``DIR/<digit>/<index>.png``, the index being the digit's position in the training split,
zero-padded to five places so that sorted names keep that order within a class: 60,000 greyscale
28x28 files, 18 MB of PNG (about 240 MB on a disk of 4 KB blocks). Used to time indexing and
decoding a real folder of images, and to train on a folder of MNIST as on the .npz
(tests/test_train_images.py does both with the small fixture).

Usage:
    python scripts/mnist_to_folder.py mnist.npz /tmp/mnist_png
    gantool train --data /tmp/mnist_png --out runs/from_pngs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gantool.judge.mnist import read_npz, validate


def write_folder(images: np.ndarray, labels: np.ndarray, out: Path) -> int:
    """Write ``images`` (uint8 ``(n, 28, 28)``) as ``out/<label>/<index:05d>.png``; return how many were written."""
    for label in np.unique(labels):
        (out / str(int(label))).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(out / str(int(label)) / f"{index:05d}.png")
    return len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("npz", type=Path, help="a Keras mnist.npz (its training split is written)")
    parser.add_argument("out", type=Path, help="folder to write into; must not exist or be empty")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty; choose a new folder")
    digits = validate(read_npz(args.npz), str(args.npz))
    start = time.perf_counter()
    count = write_folder(digits.x_train, digits.y_train, args.out)
    print(f"Wrote {count:,} PNG files into {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
