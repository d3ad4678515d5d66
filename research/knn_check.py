"""Judge sampled digits with a second classifier unrelated to the shipped CNN: PCA + k-nearest neighbours.

Usage:
    python research/knn_check.py MNIST_NPZ DIGITS.npy [--expect 7] [--labels-convention]

``DIGITS.npy`` is what ``gantool sample --npy`` writes (uint8 (n, 28, 28, 1)). The
classifier is numpy only: pixels / 255, projected on the 50 leading principal
components of the 60,000 training digits, then a majority vote of the 5 nearest
training digits (Euclidean). It shares no weights, architecture or training with
the shipped CNN, so agreement between the two is evidence about the digits, not
about one classifier's blind spots. Prints its own MNIST test accuracy, the
class histogram of the samples and, with ``--expect D`` (every sample should be
a D) or ``--labels-convention`` (sample i should be i % 10, the conditional
default), the share it agrees with.
"""

from __future__ import annotations

import argparse

import numpy as np

COMPONENTS = 50
K = 5
CHUNK = 1000


def fit(x_train: np.ndarray):
    data = x_train.reshape(len(x_train), -1).astype(np.float32) / 255.0
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data[::4] - mean, full_matrices=False)
    basis = vt[:COMPONENTS].T
    return mean, basis, (data - mean) @ basis


def predict(model, y_train: np.ndarray, images: np.ndarray) -> np.ndarray:
    mean, basis, train = model
    queries = (images.reshape(len(images), -1).astype(np.float32) / 255.0 - mean) @ basis
    norms = (train**2).sum(axis=1)
    out = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), CHUNK):
        q = queries[start : start + CHUNK]
        distances = norms[None, :] - 2 * q @ train.T
        nearest = np.argpartition(distances, K, axis=1)[:, :K]
        votes = y_train[nearest]
        out[start : start + CHUNK] = [np.bincount(v, minlength=10).argmax() for v in votes]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mnist")
    parser.add_argument("digits")
    parser.add_argument("--expect", type=int)
    parser.add_argument("--labels-convention", action="store_true")
    args = parser.parse_args()
    with np.load(args.mnist, allow_pickle=False) as data:
        x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    model = fit(x_train)
    accuracy = (predict(model, y_train, x_test) == y_test).mean()
    images = np.load(args.digits, allow_pickle=False)[..., 0]
    predicted = predict(model, y_train, images)
    shares = np.bincount(predicted, minlength=10) / len(predicted)
    print(f"PCA-{COMPONENTS} + {K}-NN: MNIST test accuracy {accuracy:.4f}")
    print(f"{len(images)} samples, class shares " + " ".join(f"{d}:{s:.3f}" for d, s in enumerate(shares)))
    if args.expect is not None:
        print(f"called a {args.expect}: {(predicted == args.expect).mean():.4f}")
    if args.labels_convention:
        wanted = np.arange(len(predicted)) % 10
        print(f"agrees with the requested label (i % 10): {(predicted == wanted).mean():.4f}")


if __name__ == "__main__":
    main()
