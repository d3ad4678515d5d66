"""Judge exported generators with another classifier than the shipped one (e.g. one trained with another seed).

Usage:
    gantool train-classifier --data mnist.npz --out runs/clf1 --seed 1
    python research/judge_with.py runs/clf1 MODEL.onnx [MODEL.onnx ...] [--count 10000]

Same evaluation as ``gantool eval`` (n digits of the latent convention, seed 0,
figures beside that classifier's own real-data floor at the same n), so a
model's figures can be checked against a judge it was never selected with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gantool.judge.evaluate import evaluate_generator
from gantool.judge.reference import ReferenceStats
from gantool.runtime import Generator
from gantool.runtime.classifier import Classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("classifier_dir", type=Path, help="folder with classifier.onnx and classifier_stats.npz")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    classifier = Classifier.load(args.classifier_dir / "classifier.onnx")
    reference = ReferenceStats.load(args.classifier_dir / "classifier_stats.npz")
    for path in args.models:
        report, _ = evaluate_generator(Generator.load(path), count=args.count, seed=0,
                                       classifier=classifier, reference=reference)
        m, f = report.model, report.floor
        extra = f", agrees with {report.asked} {m.class_accuracy:.4f}" if m.class_accuracy is not None else ""
        print(f"{path}: FID {m.fid:.3f} ({m.fid / f.fid:.1f}x its floor {f.fid:.3f}), score {m.mnist_score:.3f} "
              f"(floor {f.mnist_score:.3f}), class KL {m.class_kl:.4f}, smallest class {m.min_class_share:.3f}{extra}")


if __name__ == "__main__":
    main()
