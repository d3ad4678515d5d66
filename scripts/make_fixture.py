"""Cut the small MNIST fixture committed under tests/data from the full mnist.npz.

Usage: python scripts/make_fixture.py ../shared/data/mnist.npz tests/data/mnist_small.npz

Takes the first 2,000 training and first 1,000 test images (original order),
so the fixture is reproducible from the public file.
"""

import sys

import numpy as np

TRAIN, TEST = 2000, 1000


def main(source: str, target: str) -> None:
    with np.load(source, allow_pickle=False) as npz:
        np.savez_compressed(
            target,
            x_train=npz["x_train"][:TRAIN], y_train=npz["y_train"][:TRAIN],
            x_test=npz["x_test"][:TEST], y_test=npz["y_test"][:TEST],
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
