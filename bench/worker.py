"""Measure one exported generator in a process of its own (a ``gantool bench`` worker).

Each format runs in a fresh interpreter so its peak resident memory is its
own: a model loaded earlier, or another engine's arenas, cannot inflate it.
The worker reads a JSON spec, writes a JSON result (and the images it made on
the parity latents, for the parent to compare) and never imports TensorFlow.

    python -m gantool.bench.worker SPEC.json

Timing: ``warmup`` untimed calls, then ``repeats`` timed calls per batch size
through :meth:`gantool.runtime.Generator.generate`, the path ``gantool sample``
takes; the parent reports medians and the 95th percentile.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gantool.errors import GantoolError

# Every format makes images on the export's parity latents of this batch, for the parity comparison.
PARITY_BATCH = 64


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What one worker measures.

    Args:
        model: the exported ``.onnx`` or ``.tflite`` file.
        result: JSON file the worker writes its figures to.
        outputs: ``.npy`` file for its float images on the parity latents.
        threads: inference threads.
        batches: batch sizes to time.
        repeats: timed calls per batch size.
        warmup: untimed calls per batch size before timing.
        quality_count: digits judged by the MNIST classifier; 0 skips quality.
        spin_wait: let onnxruntime's idle worker threads spin (see ``Generator.load``).
    """

    model: str
    result: str
    outputs: str
    threads: int
    batches: tuple[int, ...]
    repeats: int
    warmup: int
    quality_count: int
    spin_wait: bool = True

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(dataclasses.asdict(self)))
        return path

    @classmethod
    def load(cls, path: Path) -> WorkerSpec:
        data = json.loads(Path(path).read_text())
        data["batches"] = tuple(data["batches"])
        return cls(**data)


def _status_bytes(field: str) -> int | None:
    """A ``Vm*`` figure of this process from /proc (Linux), in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """The most resident memory this process has held so far."""
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    import resource

    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def time_calls(run, z: np.ndarray, warmup: int, repeats: int) -> list[float]:
    """Seconds per call of ``run(z)`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run(z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(z)
        times.append(time.perf_counter() - start)
    return times


def summarize(times: list[float], batch: int) -> dict[str, float]:
    """p50 and p95 latency (ms) and throughput at the median (images per second)."""
    seconds = np.asarray(times)
    median = float(np.median(seconds))
    return {"p50_ms": 1e3 * median, "p95_ms": 1e3 * float(np.percentile(seconds, 95)),
            "img_s": batch / median, "calls": len(times)}


def _quality(generator, count: int) -> dict[str, Any]:
    """Classifier-FID and MNIST score of ``count`` digits (seed 0), beside the real-data floor."""
    from gantool.judge.evaluate import evaluate_generator

    try:
        report, _ = evaluate_generator(generator, count, seed=0, per_class=0)
    except GantoolError as exc:
        return {"error": str(exc)}
    return {"count": report.model.count, "fid": report.model.fid, "mnist_score": report.model.mnist_score,
            "mnist_score_sd": report.model.mnist_score_sd, "floor_fid": report.floor.fid,
            "floor_count": report.floor_count, "seconds": report.seconds}


def measure(spec: WorkerSpec) -> dict[str, Any]:
    """Load the model, time each batch size, note peak memory, save parity images, judge quality."""
    from gantool.export.validate import parity_latents
    from gantool.runtime.backends import file_kind
    from gantool.runtime.contract import latents
    from gantool.runtime.generator import Generator

    # The engine is imported before the load is timed, so that "load" means reading and
    # planning the model, not importing the library.
    kind = file_kind(spec.model)
    started = time.perf_counter()
    try:
        importlib.import_module(kind.engine if kind else "onnxruntime")
    except ImportError:
        pass  # the backend raises the error that names the extra to install
    import_s = time.perf_counter() - started
    base_rss = peak_rss_bytes()
    started = time.perf_counter()
    generator = Generator.load(spec.model, threads=spec.threads, spin_wait=spec.spin_wait)
    load_s = time.perf_counter() - started
    contract = generator.contract
    timings = {}
    for batch in spec.batches:
        z = latents(batch, contract.latent_dim, seed=batch)
        timings[str(batch)] = summarize(time_calls(generator.generate, z, spec.warmup, spec.repeats), batch)
    peak = peak_rss_bytes()
    (z,) = parity_latents(contract.latent_dim, (PARITY_BATCH,))
    np.save(spec.outputs, generator.generate(z), allow_pickle=False)
    quality = _quality(generator, spec.quality_count) if spec.quality_count else None
    from gantool.runtime.describe import graph_kind

    return {
        "engine": generator.backend.name, "quantization": contract.quantization, "graph": graph_kind(generator.backend),
        "value_range": list(contract.value_range), "import_s": import_s, "load_s": load_s,
        "timings": timings, "base_rss_bytes": base_rss, "peak_rss_bytes": peak, "quality": quality,
    }


def main(argv: list[str]) -> int:
    """Run the spec at ``argv[0]``; the result file says whether it worked and why not."""
    spec = WorkerSpec.load(Path(argv[0]))
    try:
        result = measure(spec)
    except GantoolError as exc:
        result = {"error": str(exc), "user_error": True}
    except Exception as exc:  # the parent shows one line per failed format and goes on
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}", "user_error": False}
    Path(spec.result).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
