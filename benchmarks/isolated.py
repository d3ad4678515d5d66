"""Each benchmark candidate in a process of its own, timed in turn by the parent.

``tf_vs_onnx.py`` and ``all_formats.py`` (through ``harness.py``) time their candidates interleaved,
round by round, so that load on the machine hits them alike. In one process,
though, the engines also share an address space and thread pools, and they
disturb each other: ratios between formats timed in one process swing from run
to run. Here every candidate is a child process that
loads its engine once and then waits on a pipe; the parent asks one child at a
time to time ``calls`` calls at a batch size, so the rounds stay interleaved
and only one engine runs at any moment.

A child is started with ``python isolated.py SPEC_JSON`` and speaks one JSON
line per request on stdin/stdout::

    {"op": "time", "batch": 64, "calls": 4, "seed": 64}   -> {"seconds": [...], "cpu_s": 0.21}
    {"op": "outputs", "latents": "z.npy", "out": "y.npy"}   -> {"ok": true}
    {"op": "quit"}

Spec ``{"kind": "tf", "model": "g.keras", "threads": 2}`` runs a Keras
generator as a ``tf.function``; ``{"kind": "runtime", "model": "g.onnx",
"threads": 2, "spin_wait": true}`` runs any exported file through
:class:`gantool.runtime.Generator`, as ``gantool sample`` does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class EngineProcess:
    """A candidate running in a child process (see the module docstring)."""

    def __init__(self, name: str, spec: dict) -> None:
        self.name = name
        self.process = subprocess.Popen([sys.executable, __file__, json.dumps(spec)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self._request({"op": "ready"})  # wait for the engine to load before any timing starts

    def _request(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark child {self.name!r} exited (code {self.process.wait()}); see stderr above")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"benchmark child {self.name!r}: {reply['error']}")
        return reply

    def time_calls(self, batch: int, calls: int, latent_seed: int) -> tuple[list[float], float]:
        """(seconds per call, CPU seconds of the child over all calls) for ``calls`` calls at ``batch``."""
        reply = self._request({"op": "time", "batch": batch, "calls": calls, "seed": latent_seed})
        return reply["seconds"], reply["cpu_s"]

    def outputs(self, z: np.ndarray, folder: Path) -> np.ndarray:
        """The child's float outputs for latents ``z``."""
        safe = re.sub(r"[^A-Za-z0-9]+", "_", self.name)
        latents, out = folder / f"{safe}-z.npy", folder / f"{safe}-y.npy"
        np.save(latents, z, allow_pickle=False)
        self._request({"op": "outputs", "latents": str(latents), "out": str(out)})
        return np.load(out, allow_pickle=False)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._request({"op": "quit"})
            except (RuntimeError, BrokenPipeError):
                pass
            self.process.wait(timeout=30)


class InProcess:
    """A candidate run in this process (``--one-process``), with the interface of :class:`EngineProcess`."""

    def __init__(self, name: str, run, latent_dim: int) -> None:
        self.name, self.run, self.latent_dim = name, run, latent_dim

    def time_calls(self, batch: int, calls: int, latent_seed: int) -> tuple[list[float], float]:
        from gantool.bench.worker import time_calls

        z = np.random.default_rng(latent_seed).standard_normal((batch, self.latent_dim), dtype=np.float32)
        cpu_start = time.process_time()
        seconds = time_calls(self.run, z, warmup=0, repeats=calls)
        return seconds, time.process_time() - cpu_start

    def outputs(self, z: np.ndarray, folder: Path) -> np.ndarray:
        return np.asarray(self.run(z))

    def close(self) -> None:
        pass


def make_engine(kind: str, model: str | Path, threads: int, spin_wait: bool = True, keras_model=None):
    """(run(z) -> float outputs, latent_dim): a Keras generator as a ``tf.function`` (``kind`` "tf"),
    or an exported file through :class:`gantool.runtime.Generator` (``kind`` "runtime").

    ``keras_model``: the Keras generator already loaded in this process (whose TensorFlow
    threads the caller has set); else it is loaded from ``model`` and TensorFlow gets ``threads``.
    """
    if kind == "tf":
        import tensorflow as tf

        if keras_model is None:
            import keras

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            keras_model = keras.saving.load_model(model, compile=False, safe_mode=True)
        latent_dim = int(keras_model.inputs[0].shape[-1])
        signature = [tf.TensorSpec((None, latent_dim), tf.float32)]
        generate = tf.function(lambda z: keras_model(z, training=False), input_signature=signature)
        return (lambda z: generate(z).numpy()), latent_dim
    from gantool.runtime import Generator

    generator = Generator.load(model, threads, spin_wait=spin_wait)
    return generator.generate, generator.contract.latent_dim


def _serve(spec: dict) -> None:
    from gantool.bench.worker import time_calls

    # Replies go to the real stdout; anything a library prints goes to stderr instead of the protocol.
    protocol, sys.stdout = sys.stdout, sys.stderr
    run, latent_dim = make_engine(spec["kind"], spec["model"], spec["threads"], spec.get("spin_wait", True))
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "quit":
            break
        try:
            if op == "time":
                z = np.random.default_rng(request["seed"]).standard_normal((request["batch"], latent_dim),
                                                                            dtype=np.float32)
                cpu_start = time.process_time()
                seconds = time_calls(run, z, warmup=0, repeats=request["calls"])
                reply = {"seconds": seconds, "cpu_s": time.process_time() - cpu_start}
            elif op == "outputs":
                np.save(request["out"], np.asarray(run(np.load(request["latents"], allow_pickle=False))), allow_pickle=False)
                reply = {"ok": True}
            else:
                reply = {"ok": op == "ready"}
        except Exception as exc:  # the parent prints it and stops
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
