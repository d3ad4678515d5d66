"""Does drawing latents closer to (or farther from) the origin buy MNIST score? The truncation trick, measured.

Usage:
    python research/latent_scale.py [MODEL] [--count 10000] [--scales 0.7,0.8,0.9,1.0,1.1,1.2] [--truncate 1.5,2.0]
(MODEL: an exported .onnx/.tflite, default the bundled one)

GANs often trade diversity for fidelity by sampling latents from a narrower
distribution (BigGAN's truncation trick). This draws the documented latent
convention (seed 0), then either scales every latent, or redraws (seed 1) each
component whose magnitude exceeds a threshold, and judges each set with the
classifier `gantool eval` uses: classifier-FID, MNIST score, class KL, smallest
class. It only measures; gantool's sampler keeps the plain convention.
"""

from __future__ import annotations

import argparse

import numpy as np


def truncated(z: np.ndarray, limit: float, seed: int = 1) -> np.ndarray:
    """``z`` with every component beyond ``±limit`` redrawn from N(0, 1) until it falls inside."""
    rng, z = np.random.default_rng(seed), z.copy()
    while np.any(outside := np.abs(z) > limit):
        z[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
    return z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--scales", default="0.7,0.8,0.9,1.0,1.1,1.2")
    parser.add_argument("--truncate", default="1.5,2.0")
    args = parser.parse_args()

    from gantool.judge.evaluate import evaluate_images, load_judge
    from gantool.runtime import Generator

    generator = Generator.load(args.model)
    classifier, reference = load_judge()
    z = generator.latents(args.count, seed=0)
    sets = [(f"scale {s:g}", z * np.float32(s)) for s in map(float, args.scales.split(",")) if s]
    sets += [(f"truncate at {t:g}", truncated(z, t)) for t in map(float, args.truncate.split(",")) if t]
    print(f"{generator.path.name}: {args.count} digits per set (seed 0 latents)")
    print(f"{'latents':<18}{'FID':>8}{'MNIST score':>13}{'class KL':>10}{'smallest':>10}")
    for name, latents in sets:
        images = generator.contract.to_uint8(generator.generate(latents))
        figures = evaluate_images(images, classifier, reference)
        print(f"{name:<18}{figures.fid:>8.3f}{figures.mnist_score:>13.3f}{figures.class_kl:>10.4f}"
              f"{figures.min_class_share:>10.3f}")


if __name__ == "__main__":
    main()
