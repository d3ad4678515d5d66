"""Judge every kept epoch of a run (RUN/epochs/generator_epoch_*.keras) with the shipped classifier.

Usage: python research/eval_epochs.py RUN_DIR [--count 10000] [--seed 0] [--from-epoch N]

Generates ``count`` digits per epoch with the Keras generator (training=False, the
documented latent convention), scores them with gantool.judge.evaluate, prints
one row per epoch and writes RUN_DIR/epoch_eval.csv. Used to pick the epoch to
bundle (lowest classifier-FID).
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FIELDS = ("epoch", "fid", "mnist_score", "class_kl", "min_class_share")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-epoch", type=int, default=1, help="skip the epochs before this one")
    args = parser.parse_args()

    import keras

    from gantool.judge.evaluate import evaluate_images, load_judge
    from gantool.runtime.contract import latents

    classifier, reference = load_judge()
    out = args.run / "epoch_eval.csv"
    done = {}
    if out.exists():
        with open(out) as handle:
            done = {int(r["epoch"]): r for r in csv.DictReader(handle)}
    for path in sorted((args.run / "epochs").glob("generator_epoch_*.keras")):
        epoch = int(path.stem.rsplit("_", 1)[1])
        if epoch < args.from_epoch:
            continue
        if epoch not in done:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
            z = latents(args.count, model.inputs[0].shape[1], args.seed)
            images = np.concatenate([np.asarray(model(z[i:i + 500], training=False)) for i in range(0, len(z), 500)])
            result = evaluate_images(images, classifier, reference)
            done[epoch] = {"epoch": epoch, "fid": f"{result.fid:.3f}", "mnist_score": f"{result.mnist_score:.3f}",
                           "class_kl": f"{result.class_kl:.4f}", "min_class_share": f"{result.min_class_share:.4f}"}
        print("  ".join(f"{k} {done[epoch][k]}" for k in FIELDS), flush=True)
    with open(out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(done[e] for e in sorted(done))


if __name__ == "__main__":
    main()
