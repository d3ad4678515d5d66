"""Does onnxruntime lose throughput to its threading? Intra-op threads vs one session per core.

Usage: python benchmarks/thread_layout.py [MODEL.onnx]   (default: the bundled model)

Times batch 64 three ways, medians of 30 calls after 5 warm-ups, three rounds:
one session with 2 intra-op threads; two 1-thread sessions each running half the
batch concurrently (onnxruntime releases the GIL); one 1-thread session. If the
two layouts match and 1 thread gives half, the graph is compute-bound and only
fewer FLOPs can make it faster (issue 6's note).
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import onnxruntime as ort


def session(path: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def throughput(call, batch: int = 64, repeats: int = 30) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return batch / float(np.median(times))


def main() -> None:
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        from gantool.runtime.generator import default_model_path

        path = str(default_model_path())
    z = np.random.default_rng(0).standard_normal((64, 100), dtype=np.float32)
    both, left, right = session(path, 2), session(path, 1), session(path, 1)

    def split():
        worker = threading.Thread(target=lambda: left.run(None, {"z": z[:32]}))
        worker.start()
        right.run(None, {"z": z[32:]})
        worker.join()

    for _ in range(3):
        print(f"2 intra-op threads: {throughput(lambda: both.run(None, {'z': z})):.0f} img/s   "
              f"2 sessions x 1 thread: {throughput(split):.0f} img/s   "
              f"1 thread: {throughput(lambda: left.run(None, {'z': z})):.0f} img/s", flush=True)


if __name__ == "__main__":
    main()
