"""Where a generator's MNIST score is lost: the samples the shipped classifier is least sure of.

Usage:
    python research/uncertain_samples.py [MODEL] [--count 10000] [--seed 0] [--out worst.png]
(MODEL: an exported .onnx/.tflite, default the bundled one)

Draws ``count`` digits with the documented latent convention, classifies them with the
classifier `gantool eval` uses, prints the mean per-sample entropy, the share of samples whose
top class probability is under 0.5 / 0.9 / 0.99 and the share of the entropy they carry, and
writes the 64 least certain digits as an 8x8 grid. Not a test: it only measures.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="worst.png")
    args = parser.parse_args()

    from gantool.runtime import Generator
    from gantool.runtime.classifier import Classifier, softmax
    from gantool.runtime.images import make_grid, png_bytes

    generator = Generator.load(args.model)
    images = generator.sample(args.count, args.seed)
    logits, _ = Classifier.load().predict(images)
    probs = softmax(logits)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    top = probs.max(axis=1)
    print(f"{generator.path.name}: {args.count} digits, seed {args.seed}; mean entropy {entropy.mean():.4f} nats")
    for threshold in (0.5, 0.9, 0.99):
        unsure = top < threshold
        print(f"top probability < {threshold}: {unsure.mean():.1%} of the digits, "
              f"{entropy[unsure].sum() / entropy.sum():.1%} of the entropy")
    worst = np.argsort(-entropy)[:64]
    with open(args.out, "wb") as handle:
        handle.write(png_bytes(make_grid(images[worst], cols=8)))
    print(f"wrote the {len(worst)} least certain digits to {args.out}")


if __name__ == "__main__":
    main()
