"""Write the golden outputs under tests/golden/: the only way goldens change.

Usage (with the train extra installed):
    python scripts/make_goldens.py [--keras tests/golden/generator.keras] [--model runtime/assets/default.onnx]

What it writes, and how:
- latents.npy: numpy.random.default_rng(SEED).standard_normal((COUNT, latent_dim), dtype=float32),
  the documented latent convention (seed and count are in manifest.json);
- expected.npy: the Keras source model's output for those latents (training=False), computed in
  float64 (gantool.export.validate.reference_outputs, the exports' parity reference) and stored as
  float32: the reference every format is compared with, each within its registry bound;
- expected_grid.png: `gantool sample --model MODEL --count COUNT --seed SEED --cols COLS`'s PNG,
  compared byte for byte;
- manifest.json: seed, count, cols, the sha256 of both model files and the library versions used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
SEED, COUNT, COLS = 2026, 16, 4


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keras", type=Path, default=GOLDEN / "generator.keras")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled one)")
    args = parser.parse_args()

    import keras
    import onnxruntime
    import tensorflow as tf

    from gantool.export.validate import reference_outputs
    from gantool.runtime import Generator, latents
    from gantool.runtime.images import make_grid, png_bytes

    generator = Generator.load(args.model)
    source = keras.saving.load_model(args.keras, safe_mode=True, compile=False)
    z = latents(COUNT, generator.contract.latent_dim, SEED)
    expected = reference_outputs(source, z).astype(np.float32)
    np.save(GOLDEN / "latents.npy", z, allow_pickle=False)
    np.save(GOLDEN / "expected.npy", expected, allow_pickle=False)
    (GOLDEN / "expected_grid.png").write_bytes(png_bytes(make_grid(generator.sample(COUNT, SEED), cols=COLS)))
    manifest = {
        "seed": SEED, "count": COUNT, "cols": COLS,
        "model": generator.path.name, "model_sha256": sha256(generator.path),
        "keras_sha256": sha256(args.keras),
        "int8_model": "default_int8.onnx" if generator.path.with_name("default_int8.onnx").exists() else None,
        "made_by": "scripts/make_goldens.py",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "onnxruntime": onnxruntime.__version__,
                     "numpy": np.__version__},
    }
    (GOLDEN / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote goldens for {generator.path} to {GOLDEN}")


if __name__ == "__main__":
    main()
