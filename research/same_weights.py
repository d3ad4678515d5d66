"""Whether two Keras generators hold the same weights, bit for bit, array by array.

Usage (with the train extra installed):
    python research/same_weights.py RUN/epochs/generator_epoch_0049.keras tests/golden/generator.keras

Answers "does this recipe reproduce that model?": `gantool train --recipe bundled` rerun with
the same seed, against the bundled model's Keras source (docs/bundled_model.md). Prints one line
per weight array (identical, or the largest difference beside the array's own scale) and a
summary; exits 0 only when every array is identical.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="a .keras generator")
    parser.add_argument("second", help="another .keras generator of the same architecture")
    args = parser.parse_args()

    import keras

    first, second = (keras.saving.load_model(path, compile=False, safe_mode=True) for path in (args.first, args.second))
    pairs = [(a.path, a.numpy(), b.numpy()) for a, b in zip(first.weights, second.weights, strict=False)]
    if len(first.weights) != len(second.weights) or any(x.shape != y.shape for _, x, y in pairs):
        print(f"different architectures: {len(first.weights)} against {len(second.weights)} weight arrays")
        return 1
    same = 0
    for name, x, y in pairs:
        if np.array_equal(x, y):
            same += 1
            print(f"{name:<40} {str(x.shape):<20} identical")
        else:
            print(f"{name:<40} {str(x.shape):<20} max |diff| {np.max(np.abs(x - y)):.3e} "
                  f"(largest |value| {np.max(np.abs(y)):.3e})")
    print(f"{same} of {len(pairs)} weight arrays bit for bit identical")
    return 0 if same == len(pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
