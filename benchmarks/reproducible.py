"""Same model, same file: export each model several times, each in its own process and PYTHONHASHSEED,
and print the sha256 of every file, whether the runs agree, and each export's wall time.

The models: the bundled model's Keras source (``tests/golden/generator.keras``, the default recipe's
DCGAN) and the zoo (``gantool.export.zoo``) at full size, saved once to a scratch folder. Each export
is ``gantool export --format onnx`` (the rules' graph) unless ``--format`` says otherwise; the DCGAN's
``--graph plain`` export is timed beside its default one (the issue's "at most 1.5x" figure).
Not a test: the suite's tests/test_reproducible_export.py proves the property on a small model.

    python benchmarks/reproducible.py                       # 3 exports of the DCGAN, 2 of each zoo model
    python benchmarks/reproducible.py dcgan cifar32 --runs 3
    python benchmarks/reproducible.py dcgan --format all    # every format, report.json included
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
DCGAN = REPO / "tests" / "golden" / "generator.keras"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="dcgan and/or zoo names (default: dcgan and the whole zoo)")
    parser.add_argument("--runs", type=int, help="exports per model (default: 3 for dcgan, 2 for the zoo)")
    parser.add_argument("--format", default="onnx", choices=("onnx", "all"))
    return parser.parse_args()


def sources(names: list[str], folder: Path) -> dict[str, Path]:
    """name -> .keras file (zoo models built at full size and saved into ``folder``)."""
    from gantool.export.zoo import ZOO, save

    found = {}
    for name in names or ["dcgan", *ZOO]:
        found[name] = DCGAN if name == "dcgan" else save(ZOO[name](width=1.0, seed=0), folder, name)
    return found


def export(source: Path, out: Path, hash_seed: int, *flags: str) -> tuple[float, dict[str, str]]:
    """One export in a child process: (wall seconds, file name -> sha256)."""
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    command = [sys.executable, "-m", "gantool", "export", "--model", str(source), "--out", str(out), *flags]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
                            check=False)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    files = sorted(out.iterdir()) if out.is_dir() else [out]
    return seconds, {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="gantool-repro-") as work:
        work = Path(work)
        for name, source in sources(args.models, work).items():
            runs = args.runs or (3 if name == "dcgan" else 2)
            out = work / ("exports" if args.format == "all" else f"{name}.onnx")
            flags = ["--format", "all", "--eval-count", "0"] if args.format == "all" else ["--format", "onnx"]
            timed_plain = name == "dcgan" and args.format == "onnx"
            results, plain = [], []
            for seed in range(1, runs + 1):  # the plain export interleaved with the default one: the same load
                results.append(export(source, out, seed, *flags))
                if timed_plain:
                    plain.append(export(source, work / "plain.onnx", seed, "--graph", "plain")[0])
            same = all(files == results[0][1] for _, files in results)
            print(f"## {name}: {runs} exports, {'byte-identical' if same else 'DIFFERENT'}; "
                  f"wall {', '.join(f'{s:.1f}' for s, _ in results)} s")
            for file, digest in results[0][1].items():
                print(f"  {digest}  {file}")
            if timed_plain:
                default = sorted(s for s, _ in results)[len(results) // 2]
                middle = sorted(plain)[len(plain) // 2]
                print(f"  --graph plain wall {', '.join(f'{s:.1f}' for s in plain)} s; default / plain (medians) "
                      f"{default / middle:.2f}x")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
