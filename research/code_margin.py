"""Where a generator trained with ``aux_sharpen="code"`` loses its MNIST score: near the latent code's boundaries.

Usage:
    python research/code_margin.py MODEL [MODEL ...] [--count 10000] [--seed 0]
(MODEL: an exported .onnx/.tflite, or a .keras generator from a run's ``epochs/`` folder)

Under the code reward each latent names a digit, the argmax of its first 10 components, so two
latents a hair apart on either side of a boundary ``z_a = z_b`` must draw different digits; a
generator cannot switch infinitely steeply and draws blends there. This script bins ``count``
latents of the documented convention by the gap between their two largest code components and
prints, per bin, the share of latents, the mean entropy of the shipped classifier's prediction
(the quantity the MNIST score loses), and how often the classifier reads the named digit; then
the score the model would have without the latents closest to a boundary. Not a test: it only
measures (docs/recipes.md, "The latent names the digit").
"""

from __future__ import annotations

import argparse

import numpy as np

BINS = ((0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.5), (0.5, np.inf))


def generate(path: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(latents, images) of the documented convention, from an exported model or a .keras generator."""
    from gantool.runtime.contract import latents

    if path.endswith(".keras"):
        import keras  # TensorFlow: only for a run's own .keras generators

        model = keras.models.load_model(path, compile=False, safe_mode=True)
        z = latents(count, model.input_shape[-1], seed)
        return z, np.concatenate([np.asarray(model(z[i:i + 500], training=False)) for i in range(0, count, 500)])
    from gantool.runtime import Generator

    generator = Generator.load(path)
    z = generator.latents(count, seed)
    return z, generator.generate(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from gantool.runtime.classifier import Classifier, softmax

    classifier = Classifier.load()
    for path in args.models:
        z, images = generate(path, args.count, args.seed)
        probs = softmax(classifier.predict(images)[0])
        entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
        kl = (probs * np.log(np.clip(probs, 1e-12, 1.0) / probs.mean(axis=0))).sum(axis=1)
        top2 = np.sort(z[:, :10], axis=1)[:, -2:]
        gap = top2[:, 1] - top2[:, 0]
        agrees = probs.argmax(axis=1) == z[:, :10].argmax(axis=1)
        print(f"{path}: MNIST score {np.exp(kl.mean()):.3f}, mean entropy {entropy.mean():.4f} nats, "
              f"the classifier reads the named digit in {agrees.mean():.1%}")
        print("| gap between the two largest code components | latents | mean entropy | share of the entropy "
              "| reads the named digit |\n| --- | --- | --- | --- | --- |")
        for low, high in BINS:
            inside = (gap >= low) & (gap < high)
            print(f"| [{low}, {high}) | {inside.mean():.1%} | {entropy[inside].mean():.4f} | "
                  f"{entropy[inside].sum() / entropy.sum():.1%} | {agrees[inside].mean():.1%} |")
        print(f"score of the latents with a gap >= 0.1 only: {np.exp(kl[gap >= 0.1].mean()):.3f}\n")


if __name__ == "__main__":
    main()
