"""gantool.js's port of numpy's random stream, run in Node, against numpy itself.

``latents(count, dim, seed)`` must equal ``numpy.random.default_rng(seed).standard_normal((count, dim),
dtype=float32)`` bit for bit, for any seed numpy takes (2**32 and above: several SeedSequence words;
above 2**128: more words than its pool), and through the ziggurat's rare paths (the tail beyond
r = 3.654, the wedges). The digit code (``name_digit``), the float -> uint8 conversion and the ONNX
metadata reader are checked the same way. One Node process runs every case (about a second).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gantool.runtime.contract import ModelContract, name_digit
from gantool.web.site import static_folder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [0, 1, 11, 12345, 2**31 - 1, 2**32 - 1, 2**32, 2**32 + 1, 2**53 + 1, 2**63, 2**64 - 1, 2**64, 2**100,
         2**128 + 7, 10**40 + 3, 2**200 - 1]
SHAPES = [(1, 1), (1, 100), (3, 7), (16, 100), (64, 100)]
# Long draws that pass through the ziggurat's tail (about 1 draw in 3,900) and wedges (1 in 140) often.
LONG = [(2, (1000, 100)), (2**100, (2000, 100)), (11, (999, 3))]
# Within a 28x28 digit of range (-1, 1): values whose scaled form is a tie, the ends, and beyond them.
RANGES = [(-1.0, 1.0), (0.0, 1.0), (-0.5, 2.0)]

NODE_CHECK = """
import { readFileSync, writeFileSync } from "node:fs";
const [gantoolUrl, casesPath, outPath] = process.argv.slice(2);
const { latents, nameDigit, toUint8, onnxMetadata } = await import(gantoolUrl);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const floats = (path) => {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};
const chunks = [];
const started = performance.now();
for (const c of cases.latents) {
  const z = latents(c.count, c.dim, BigInt(c.seed));
  chunks.push(Buffer.from(z.buffer));
}
const latentMs = performance.now() - started;
for (const c of cases.named) {
  const z = floats(c.path);
  chunks.push(Buffer.from(nameDigit(z, c.count, c.dim, c.digit, c.code).buffer));
}
const values = floats(cases.uint8.path);
for (const range of cases.uint8.ranges) chunks.push(Buffer.from(toUint8(values, range)));
const metadata = cases.onnx.map((path) => onnxMetadata(readFileSync(path)));
writeFileSync(outPath, Buffer.concat(chunks));
console.log(JSON.stringify({ metadata, latentMs }));
"""


def need(condition: bool, reason: str) -> None:
    """Skip when a tool is missing here; fail in CI (CI=true or GANTOOL_WEB_REQUIRED=1), which must run it."""
    if condition:
        return
    if os.environ.get("CI") == "true" or os.environ.get("GANTOOL_WEB_REQUIRED") == "1":
        pytest.fail(f"{reason} (CI must run the gantool web tests: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node_results(tmp_path_factory):
    node = shutil.which("node")
    need(node is not None, "node is not installed (apt-get install nodejs)")
    folder = tmp_path_factory.mktemp("node_check")
    rng = np.random.default_rng(0)
    named = []
    for index, (count, dim, code) in enumerate([(50, 100, 10), (7, 12, 12), (5, 4, 3)]):
        z = rng.standard_normal((count, dim), dtype=np.float32)
        z[0, :code] = 1.5  # ties: numpy.argmax takes the first of equal maxima
        z[1, 1] = z[1, :code].max() + 1
        path = folder / f"named{index}.bin"
        z.tofile(path)
        named += [{"path": str(path), "count": count, "dim": dim, "code": code, "digit": digit, "z": z}
                  for digit in range(code)]
    values = _uint8_inputs(rng)
    values.tofile(folder / "values.bin")
    onnx_files = [ROOT / "runtime" / "assets" / "default.onnx", ROOT / "runtime" / "assets" / "default_int8.onnx",
                  ROOT / "tests" / "data" / "tiny_generator.onnx", ROOT / "runtime" / "assets" / "classifier.onnx"]
    latent_cases = [{"seed": str(seed), "count": count, "dim": dim} for seed in SEEDS for count, dim in SHAPES]
    latent_cases += [{"seed": str(seed), "count": shape[0], "dim": shape[1]} for seed, shape in LONG]
    cases = {"latents": latent_cases, "named": [{k: v for k, v in c.items() if k != "z"} for c in named],
             "uint8": {"path": str(folder / "values.bin"), "ranges": RANGES},
             "onnx": [str(p) for p in onnx_files]}
    (folder / "cases.json").write_text(json.dumps(cases))
    (folder / "check.mjs").write_text(NODE_CHECK)
    result = subprocess.run([node, str(folder / "check.mjs"), (static_folder() / "gantool.js").as_uri(),
                             str(folder / "cases.json"), str(folder / "out.bin")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"cases": latent_cases, "named": named, "values": values, "onnx": onnx_files,
            "out": (folder / "out.bin").read_bytes(), **report}


def _uint8_inputs(rng) -> np.ndarray:
    """Random floats, every float32 whose scaled value is a tie in each range, the ends and beyond."""
    values = [rng.uniform(-1.2, 2.2, 20_000).astype(np.float32)]
    for low, high in RANGES:
        scale = np.float32(255.0 / (high - low))
        grid = (np.arange(256, dtype=np.float32) + np.float32(0.5)) / scale + np.float32(low)
        near = np.concatenate([np.nextafter(grid, np.float32(-9)), grid, np.nextafter(grid, np.float32(9))])
        values.append(near.astype(np.float32))
    values.append(np.array([-1, 0, 1, -0.0, 0.5, -5, 5, 1e-30, 1e6, -1e6], dtype=np.float32))
    return np.concatenate(values)


def _split(results):
    """The node output, cut into the arrays each case wrote, in order."""
    out, offset = results["out"], 0

    def take(nbytes: int, dtype) -> np.ndarray:
        nonlocal offset
        chunk = np.frombuffer(out, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=offset)
        offset += nbytes
        return chunk

    latents = [take(c["count"] * c["dim"] * 4, np.float32).reshape(c["count"], c["dim"]) for c in results["cases"]]
    named = [take(c["z"].nbytes, np.float32).reshape(c["z"].shape) for c in results["named"]]
    uint8 = [take(results["values"].size, np.uint8) for _ in RANGES]
    assert offset == len(out)
    return latents, named, uint8


def test_latents_equal_numpy_for_every_seed(node_results):
    latents, _, _ = _split(node_results)
    worst, draws, tails = 0.0, 0, 0
    for case, js in zip(node_results["cases"], latents, strict=True):
        seed = int(case["seed"])
        expected = np.random.default_rng(seed).standard_normal((case["count"], case["dim"]), dtype=np.float32)
        assert np.array_equal(js.view(np.uint32), expected.view(np.uint32)), (
            f"seed {seed}, shape ({case['count']}, {case['dim']}): {int((js != expected).sum())} values differ, "
            f"max |diff| {np.abs(js - expected).max():.3g}")
        worst = max(worst, float(np.abs(js - expected).max()))
        draws += expected.size
        tails += int((np.abs(expected) > 3.6541528853610088).sum())
    assert tails >= 50, "the long cases should pass through the ziggurat's tail"
    print(f"\nlatents: {len(latents)} cases, {draws:,} draws ({tails} in the tail), max |JS - numpy| {worst:g}, "
          f"{node_results['latentMs']:.0f} ms in Node")


def test_name_digit_equals_python(node_results):
    _, named, _ = _split(node_results)
    for case, js in zip(node_results["named"], named, strict=True):
        expected = name_digit(case["z"], case["digit"], case["code"])
        assert np.array_equal(js, expected), f"digit {case['digit']}, code {case['code']}"
        assert (np.argmax(js[1:, : case["code"]], axis=1) == case["digit"]).all()  # row 0: all tied


def test_to_uint8_equals_python(node_results):
    _, _, uint8 = _split(node_results)
    for (low, high), js in zip(RANGES, uint8, strict=True):
        contract = ModelContract(latent_dim=1, output_shape=(1, 1, 1), value_range=(low, high))
        expected = contract.to_uint8(node_results["values"])
        assert np.array_equal(js, expected), f"range {(low, high)}: {int((js != expected).sum())} pixels differ"


def test_onnx_metadata_reader_agrees_with_onnxruntime(node_results):
    import onnxruntime as ort

    from gantool.runtime.onnx_metadata import read_metadata

    for path, metadata in zip(node_results["onnx"], node_results["metadata"], strict=True):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert metadata == session.get_modelmeta().custom_metadata_map == read_metadata(path), path.name
