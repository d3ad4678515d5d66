"""Bad inputs for tests/test_bad_input.py: broken, foreign and misleading files, made on demand.

Each maker writes small files (a few KB; damaged checkpoints copy a real one) so
every case starts from fresh, known bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import DATA, FIXTURE_NPZ, TINY_ONNX

TINY_TFLITE = DATA / "tiny_generator.tflite"
GOLDEN_KERAS = Path(__file__).parent / "golden" / "generator.keras"
# What every output that exists before a failing command holds, and must still hold after it.
PREVIOUS = b"previous output, must survive a failed command"


def _onnx_generator(path: Path, latent_dim: int = 16, out_dims=(28, 28, 1), metadata: dict | None = None) -> Path:
    """A small valid ONNX latent -> tanh image graph: z (batch, latent_dim) -> image (batch, *out_dims)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(0, 0.3, (latent_dim, int(np.prod(out_dims)))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["z", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
         helper.make_node("Reshape", ["t", "shape"], ["image"])],
        "generator",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent_dim])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", *out_dims])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([-1, *out_dims], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def _onnx_image_filter(path: Path) -> Path:
    """A valid ONNX model that is not a generator: image (batch, 1, 28, 28) -> the same image."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "filter",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, 28, 28])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def tflite_image_filter() -> bytes:
    """A valid TFLite model without metadata that is not a generator: image (1, 28, 28, 1) -> its ReLU.

    Written with the flatbuffer schema ai-edge-litert ships, so no TensorFlow is needed.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RELU
    tensors = []
    for index, name in enumerate(("image", "filtered")):
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = name, [1, 28, 28, 1], schema.TensorType.FLOAT32, index + 1
        tensors.append(tensor)
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [1], [operator]
    model = schema.ModelT()
    # Buffer 0 is the schema's empty sentinel; each tensor gets an empty buffer of its own.
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [schema.BufferT() for _ in range(3)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def make_onnx_models(folder: Path) -> dict[str, Path]:
    """Valid ONNX files gantool did not export: no metadata, or metadata that disagrees with the graph."""
    import onnx

    tiny_metadata = {p.key: p.value for p in onnx.load(str(TINY_ONNX)).metadata_props}  # latent_dim 8
    return {
        "no_meta": _onnx_generator(folder / "no_meta.onnx"),
        "no_meta_hw": _onnx_generator(folder / "no_meta_hw.onnx", latent_dim=12, out_dims=(20, 24)),
        "not_a_generator": _onnx_image_filter(folder / "filter.onnx"),
        "mismatch": _onnx_generator(folder / "mismatch.onnx", latent_dim=16, metadata=tiny_metadata),
    }


def _mnist_arrays() -> dict[str, np.ndarray]:
    with np.load(FIXTURE_NPZ, allow_pickle=False) as npz:
        return {key: npz[key][:50] for key in ("x_train", "y_train", "x_test", "y_test")}


def _idx(array: np.ndarray, magic: int = 0x803, dims: tuple[int, ...] | None = None) -> bytes:
    dims = array.shape if dims is None else dims
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _idx_folder(folder: Path, arrays: dict[str, np.ndarray], broken: bytes) -> Path:
    """The four MNIST IDX files, the training images replaced by ``broken``."""
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(broken)
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx(arrays["y_train"], 0x801))
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx(arrays["x_test"]))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx(arrays["y_test"], 0x801))
    return folder


def _checkpoints(root: Path, tiny_run: Path) -> dict[str, Path]:
    """Run folders whose checkpoint is damaged in each way a crash, a disk or a person can damage it."""
    good = (tiny_run / "checkpoints" / "last.npz").read_bytes()

    def run_with(name: str, data: bytes | None) -> Path:
        folder = root / name / "checkpoints"
        folder.mkdir(parents=True)
        if data is not None:
            (folder / "last.npz").write_bytes(data)
        return root / name

    runs = {
        "truncated": run_with("truncated", good[: len(good) // 2]),
        "stale_temp_only": run_with("stale_temp_only", None),
        "folder": run_with("folder", None),
    }
    (runs["stale_temp_only"] / "checkpoints" / ".last.npz.k1ll3d.tmp.npz").write_bytes(good[:1000])
    (runs["folder"] / "checkpoints" / "last.npz").mkdir()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF  # inside a weight array: its CRC no longer matches
    runs["bit_flip"] = run_with("bit_flip", bytes(flipped))
    with np.load(tiny_run / "checkpoints" / "last.npz", allow_pickle=False) as npz:
        meta = {key: npz[key] for key in ("meta/epoch", "meta/config")}
    runs["partial"] = run_with("partial", None)
    np.savez(runs["partial"] / "checkpoints" / "last.npz", **meta)  # the weights never made it
    runs["pickled"] = run_with("pickled", None)
    np.savez(runs["pickled"] / "checkpoints" / "last.npz", **{**meta, "meta/epoch": np.array([1], dtype=object)})
    return runs


def make_bad_inputs(work: Path, onnx_models: dict[str, Path], tiny_run: Path | None = None) -> dict[str, str]:
    """Every bad input and output path a case may name, made fresh in ``work``: name -> path.

    Damaged checkpoints are made only when ``tiny_run`` is given (they copy its checkpoint, tens of MB).
    """
    from PIL import Image

    work.mkdir()
    p: dict[str, Path] = {"work": work}
    for name in ("empty.onnx", "empty.tflite", "empty.keras", "empty.npz"):
        p[name.replace(".", "_")] = work / name
        (work / name).write_bytes(b"")
    p["trunc_onnx"] = work / "truncated.onnx"
    p["trunc_onnx"].write_bytes(TINY_ONNX.read_bytes()[:5000])
    p["trunc_tflite"] = work / "truncated.tflite"
    p["trunc_tflite"].write_bytes(TINY_TFLITE.read_bytes()[:5000])
    p["trunc_keras"] = work / "truncated.keras"
    with open(GOLDEN_KERAS, "rb") as handle:
        p["trunc_keras"].write_bytes(handle.read(4096))
    p["trunc_npz"] = work / "truncated.npz"
    p["trunc_npz"].write_bytes(FIXTURE_NPZ.read_bytes()[:3000])
    p["tflite_no_meta"] = work / "foreign.tflite"
    p["tflite_no_meta"].write_bytes(TINY_TFLITE.read_bytes().replace(b"gantool.contract", b"someone.contract"))
    p["tflite_not_a_generator"] = work / "filter.tflite"
    p["tflite_not_a_generator"].write_bytes(tflite_image_filter())
    p["png"] = work / "digits.png"
    Image.new("L", (28, 28)).save(p["png"])
    for suffix in ("onnx", "tflite", "keras", "npz"):
        p[f"png_{suffix}"] = work / f"picture.{suffix}"
        p[f"png_{suffix}"].write_bytes(p["png"].read_bytes())
        p[f"text_{suffix}"] = work / f"notes.{suffix}"
        p[f"text_{suffix}"].write_text("these are not the weights you are looking for\n")
    p["folder"] = work / "folder"
    p["folder"].mkdir()
    p["unreadable_images"] = work / "unreadable_images"  # a class folder whose images Pillow cannot read
    (p["unreadable_images"] / "7").mkdir(parents=True)
    (p["unreadable_images"] / "7" / "cut.png").write_bytes(p["png"].read_bytes()[:20])
    (p["unreadable_images"] / "7" / "words.jpg").write_text("these are not the pixels you are looking for\n")
    p["folder_onnx"] = work / "folder.onnx"
    p["folder_onnx"].mkdir()
    p["locked"] = work / "locked"
    p["locked"].mkdir()
    p["a_file"] = work / "a_file"
    p["a_file"].write_bytes(PREVIOUS)
    for name in ("old.png", "old.npy", "old.json", "old.onnx", "old.tflite"):
        p[name.replace(".", "_")] = work / name
        (work / name).write_bytes(PREVIOUS)
    p["assets"] = work / "assets"
    p["assets"].mkdir()
    for name in ("classifier.onnx", "classifier_stats.npz"):
        (p["assets"] / name).write_bytes(PREVIOUS)
    arrays = _mnist_arrays()
    npz_variants = {
        "missing_keys": {"x_train": arrays["x_train"]},
        "wrong_dtype": {**arrays, "x_train": arrays["x_train"].astype(np.float32)},
        "wrong_shape": {**arrays, "x_train": np.zeros((50, 32, 32), np.uint8)},
        "small": arrays,
        "pickled": {**arrays, "x_train": np.array([{"exec": "me"}] * 50, dtype=object)},
    }
    for name, content in npz_variants.items():
        p[f"npz_{name}"] = work / f"{name}.npz"
        np.savez(p[f"npz_{name}"], **content)
    p["npy"] = work / "images.npy"
    np.save(p["npy"], arrays["x_train"])
    p["idx_bad_magic"] = _idx_folder(work / "idx_bad_magic", arrays, _idx(arrays["x_train"], magic=0x0000_0A03))
    p["idx_lengths"] = _idx_folder(work / "idx_lengths", arrays,
                                   _idx(arrays["x_train"], dims=(len(arrays["x_train"]) + 1, 28, 28)))
    if tiny_run is not None:
        for name, run in _checkpoints(work / "runs", tiny_run).items():
            p[f"ckpt_{name}"] = run
    p.update({f"onnx_{k}": v for k, v in onnx_models.items()})
    return {key: str(value) for key, value in p.items()}
