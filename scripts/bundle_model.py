"""Bundle a trained generator as the runtime's default model (runtime/assets/).

Usage (with the train extra installed):
    python scripts/bundle_model.py RUN_DIR/best.keras --run RUN_DIR [--count 10000]

Steps, each with gantool's own code:
1. export onnx/none (the graph `gantool export` chooses by measurement: run this on an otherwise idle
   machine) and onnx/int8 through the format registry; each export is parity-checked against the Keras
   model as usual;
2. judge each file with `gantool eval`'s evaluation (n = --count, seed 0) and
   write the figures, the epoch and the recipe into the file's contract;
3. install the fp32 file as runtime/assets/default.onnx, and the int8 one as
   default_int8.onnx only if it passed its parity bound and its classifier-FID is
   within +10% of fp32's (else any older default_int8.onnx is removed);
4. copy the Keras source to tests/golden/generator.keras (then run
   scripts/make_goldens.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "runtime" / "assets"
INT8_FID_MARGIN = 1.10


def export_and_judge(keras_model, contract, key: str, folder: Path, count: int, epoch: int):
    """Export one registry entry, evaluate it, and store the figures in its contract."""
    import onnx

    from gantool.export import canonical
    from gantool.export.all_formats import export_one
    from gantool.export.keras_to_onnx import attach_contract
    from gantool.export.registry import REGISTRY, ExportOptions
    from gantool.judge.evaluate import evaluate_generator
    from gantool.runtime import Generator

    entry = next(e for e in REGISTRY if e.key == key)
    path = folder / entry.file_name
    parity = export_one(keras_model, contract, entry, path, ExportOptions()).parity
    report, _ = evaluate_generator(Generator.load(path), count=count, seed=0)
    figures = {k: round(v, 5) if isinstance(v, float) else v for k, v in report.model.to_dict().items()
               if k in ("count", "fid", "mnist_score", "mnist_score_sd", "class_kl", "min_class_share", "class_accuracy")
               and v is not None}
    figures.update(epoch=epoch, seed=0, floor_fid=round(report.floor.fid, 5),
                   floor_mnist_score=round(report.floor.mnist_score, 5),
                   parity_max_abs=float(f"{parity.max_abs:.3g}"), parity_mean_abs=float(f"{parity.mean_abs:.3g}"))
    proto = onnx.load(path)
    stored = json.loads({p.key: p.value for p in proto.metadata_props}["gantool.contract"])
    from gantool.runtime.contract import ModelContract

    attach_contract(proto, ModelContract.from_dict(stored).replace(evaluation=figures))
    canonical.save(proto, path)
    return path, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keras", type=Path)
    parser.add_argument("--run", type=Path, required=True, help="the run folder (config.json, best.json)")
    parser.add_argument("--epoch", type=int, default=None, help="epoch of the generator (default: best.json's)")
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()

    import keras

    from gantool.export.source import RUN_CONFIG
    from gantool.export.validate import ParityError
    from gantool.runtime.contract import ModelContract

    run_config = json.loads((args.run / RUN_CONFIG).read_text())
    epoch = args.epoch or json.loads((args.run / "best.json").read_text())["epoch"]
    contract = ModelContract.from_dict(run_config["contract"])
    model = keras.saving.load_model(args.keras, safe_mode=True, compile=False)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fp32_figures = export_and_judge(model, contract, "onnx/none", Path(tmp), args.count, epoch)
        try:
            int8, int8_figures = export_and_judge(model, contract, "onnx/int8", Path(tmp), args.count, epoch)
        except ParityError as exc:  # the int8 file is optional; the fp32 one is not
            int8, int8_figures = None, {"parity_error": str(exc)}
        print(json.dumps({"fp32": fp32_figures, "int8": int8_figures}, indent=2))
        shutil.copyfile(fp32, ASSETS / "default.onnx")
        if int8 is None:
            (ASSETS / "default_int8.onnx").unlink(missing_ok=True)
            print("int8 fails its parity bound: not bundled")
        elif int8_figures["fid"] <= INT8_FID_MARGIN * fp32_figures["fid"]:
            shutil.copyfile(int8, ASSETS / "default_int8.onnx")
            print("int8 passes its quality bound: bundled as default_int8.onnx")
        else:
            (ASSETS / "default_int8.onnx").unlink(missing_ok=True)
            print(f"int8 FID {int8_figures['fid']:.3f} > {INT8_FID_MARGIN} x fp32's: not bundled")
    shutil.copyfile(args.keras, ROOT / "tests" / "golden" / "generator.keras")
    print(f"bundled {args.keras} (epoch {epoch}); now run scripts/make_goldens.py")


if __name__ == "__main__":
    main()
