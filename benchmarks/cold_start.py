"""Cold start of ``gantool sample`` (64 digits to a PNG) and ``gantool --help``, timed with ``/usr/bin/time -v``.

Every run is a fresh process, as a user starts it. Each command runs once
untimed (so the disk cache holds the files), then ``--runs`` times; the table
gives the median and the worst wall time, the CPU time (user + system, which
drifts less than wall time when other processes hold the cores) and the peak
resident memory, beside the issue's targets: sample <= 0.6 s and <= 120 MB,
--help <= 0.3 s. Not a test: it only measures (``--check`` exits 1 when a
median misses a target).

    python benchmarks/cold_start.py                              # the bundled model and the tiny test model
    python benchmarks/cold_start.py bundled g.onnx exports/generator_int8.tflite --runs 11

Needs GNU time (Debian: ``apt-get install time``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_generator.onnx"
# "bundled" samples without --model: the generator shipped in the runtime package.
BUNDLED = "bundled"
GNU_TIME = "/usr/bin/time"
SAMPLE_WALL_S, SAMPLE_RSS_MB, HELP_WALL_S = 0.6, 120.0, 0.3
FIELDS = {
    "wall": re.compile(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)"),
    "user": re.compile(r"User time \(seconds\): ([\d.]+)"),
    "system": re.compile(r"System time \(seconds\): ([\d.]+)"),
    "rss_kb": re.compile(r"Maximum resident set size \(kbytes\): (\d+)"),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"exported .onnx/.tflite files, or {BUNDLED!r} for the shipped "
                        f"model (default: {BUNDLED} and {TINY.name})")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (medians are reported)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a median misses its target")
    return parser.parse_args()


def gantool_executable() -> str:
    """The console script of the Python running this file (its venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("gantool")
    found = str(beside) if beside.is_file() else shutil.which("gantool")
    if not found:
        sys.exit("gantool is not installed in this environment; pip install -e . first")
    return found


def time_once(command: list[str]) -> dict[str, float]:
    """Run ``command`` under ``/usr/bin/time -v``; wall and CPU seconds and peak RSS in MB."""
    done = subprocess.run([GNU_TIME, "-v", *command], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    found = {name: pattern.search(done.stderr) for name, pattern in FIELDS.items()}
    if not all(found.values()):
        sys.exit(f"could not read /usr/bin/time -v output:\n{done.stderr[-2000:]}")
    hours, minutes, seconds = found["wall"].groups()
    return {
        "wall": 3600 * int(hours or 0) + 60 * int(minutes) + float(seconds),
        "cpu": float(found["user"].group(1)) + float(found["system"].group(1)),
        "rss_mb": int(found["rss_kb"].group(1)) * 1024 / 1e6,
    }


def measure(command: list[str], runs: int) -> dict[str, float]:
    time_once(command)  # untimed: fills the disk cache
    results = [time_once(command) for _ in range(runs)]
    return {
        "wall": statistics.median(r["wall"] for r in results), "wall_max": max(r["wall"] for r in results),
        "cpu": statistics.median(r["cpu"] for r in results), "rss_mb": statistics.median(r["rss_mb"] for r in results),
        "rss_max": max(r["rss_mb"] for r in results),
    }


def main() -> int:
    args = parse_args()
    if not Path(GNU_TIME).is_file():
        sys.exit(f"{GNU_TIME} is missing; install GNU time (Debian: apt-get update && apt-get install -y time)")
    gantool = gantool_executable()
    models = args.models or [BUNDLED, str(TINY)]
    rows, missed = [], []
    with tempfile.TemporaryDirectory() as folder:
        grid = str(Path(folder) / "grid.png")
        for model in models:
            model_args = [] if model == BUNDLED else ["--model", model]
            figures = measure([gantool, "sample", *model_args, "--out", grid, "--count", "64"], args.runs)
            ok = figures["wall"] <= SAMPLE_WALL_S and figures["rss_mb"] <= SAMPLE_RSS_MB
            rows.append((f"sample 64 digits: {model}", figures, f"<= {SAMPLE_WALL_S} s, <= {SAMPLE_RSS_MB:.0f} MB", ok))
        figures = measure([gantool, "--help"], args.runs)
        rows.append(("gantool --help", figures, f"<= {HELP_WALL_S} s", figures["wall"] <= HELP_WALL_S))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cold start, {args.runs} runs each after one untimed run; {os.cpu_count()} cores, load average {load}")
    print(f"{'command':<60}{'wall s':>8}{'worst s':>9}{'CPU s':>7}{'RSS MB':>8}{'worst MB':>10}  target")
    for name, f, target, ok in rows:
        print(f"{name[-60:]:<60}{f['wall']:>8.2f}{f['wall_max']:>9.2f}{f['cpu']:>7.2f}{f['rss_mb']:>8.1f}"
              f"{f['rss_max']:>10.1f}  {target} {'met' if ok else 'MISSED'}")
        if not ok:
            missed.append(name)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
