"""Same model, seed and count: byte-identical PNG and .npy across processes and thread counts.

Each sample runs in its own process (a fresh onnxruntime or LiteRT), one with 1
thread and one with 2, as README's "Determinism" section states (it also lists the
thread counts measured by hand).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import DATA

TINY_TFLITE = DATA / "tiny_generator.tflite"


def _sample(folder, tag: str, *args: str) -> tuple[bytes, bytes]:
    png, npy = folder / f"{tag}.png", folder / f"{tag}.npy"
    # 260 digits: more than one onnxruntime batch of 256.
    done = subprocess.run([sys.executable, "-m", "gantool", "sample", "--out", str(png), "--npy", str(npy),
                           "--count", "260", "--cols", "20", "--seed", "3", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return png.read_bytes(), npy.read_bytes()


@pytest.mark.parametrize("model", ["bundled", "tflite"])
def test_same_seed_gives_the_same_bytes_in_every_process(tmp_path, model):
    if model == "tflite":
        pytest.importorskip("ai_edge_litert")
    args = ("--model", str(TINY_TFLITE)) if model == "tflite" else ()
    one_thread = _sample(tmp_path, "one", *args, "--threads", "1")
    two_threads = _sample(tmp_path, "two", *args, "--threads", "2")
    assert one_thread == two_threads
    assert len(set(one_thread[1])) > 10  # real digits, not a blank array that would match anything
