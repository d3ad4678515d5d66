"""Shared fixtures: a tiny trained run and its ONNX export, made once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

DATA = Path(__file__).parent / "data"
FIXTURE_NPZ = DATA / "mnist_small.npz"
TINY_ONNX = DATA / "tiny_generator.onnx"


@pytest.fixture(scope="session")
def fixture_npz() -> Path:
    """2,000 train + 1,000 test MNIST images cut from the full set (scripts/make_fixture.py)."""
    return FIXTURE_NPZ


@pytest.fixture(scope="session")
def tiny_config():
    from gantool.train.config import TrainConfig

    return TrainConfig(epochs=1, batch_size=32, steps_per_epoch=2, seed=7, lr=2e-4, beta1=0.5)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config) -> Path:
    """A DCGAN trained for 2 steps on the fixture: real weights, real files, seconds to make."""
    from gantool.train.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(tiny_config, out, data=str(FIXTURE_NPZ), log=lambda *_: None)
    return out


@pytest.fixture(scope="session")
def tiny_keras(tiny_run):
    """(keras_model, contract) of the tiny run's generator."""
    from gantool.export.source import load_source

    model, contract, _ = load_source(tiny_run)
    return model, contract


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run, tiny_keras, tmp_path_factory) -> Path:
    """The tiny run exported to ONNX (validated by the export itself)."""
    from gantool.export.keras_to_onnx import export_onnx

    model, contract = tiny_keras
    out = tmp_path_factory.mktemp("tiny_onnx") / "g.onnx"
    export_onnx(model, contract, out)
    return out


BLOCKED = ("tensorflow", "keras", "tf2onnx")


def run_gantool_without_tensorflow(tmp_path: Path, *args: str):
    """Run ``python -m gantool ARGS`` (and any subprocess it starts) with TensorFlow, Keras and
    tf2onnx unimportable; fail if anything even tried to import them. Returns the CompletedProcess."""
    import subprocess
    import sys
    import textwrap

    attempts = tmp_path / "import_attempts.txt"
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    with open({str(attempts)!r}, "a") as log:
                        log.write(name + "\\n")
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        """
    ))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "gantool", *map(str, args)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert not attempts.exists(), f"tried to import: {attempts.read_text()}"
    return result
