"""Helpers of the own-images tests: class folders written with Pillow, and tiny ONNX judges and generators.

Everything is made here, in seconds and without TensorFlow (onnx's helper builds the graphs):

- :func:`colour_folder`: one sub-folder per class (``a_red``, ``b_green``, ``c_blue``), pictures whose
  class is the colour channel that dominates them, with shapes drawn on them;
- :func:`digit_folder`: the committed MNIST fixture's digits as PNG class folders ``0``..``9``;
- :func:`colour_classifier`: a gantool classifier (``image`` -> ``logits``, ``features``) whose logits are
  the mean of each colour channel, so it reads :func:`colour_folder`'s classes right;
- :func:`colour_generator`: a generator whose class (a digit code, or a label input) sets the colour
  channel that dominates its pictures, with a contract naming its classes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOUR_CLASSES = ("a_red", "b_green", "c_blue")


def colour_picture(rng: np.random.Generator, channel: int, size: int) -> Image.Image:
    """A ``size`` x ``size`` RGB picture: channel ``channel`` bright, the others dark, a shape on top."""
    pixels = rng.integers(0, 70, (size, size, 3), dtype=np.uint8)
    pixels[..., channel] = rng.integers(170, 256, (size, size), dtype=np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    left, top = (int(v) for v in rng.integers(0, size // 2, 2))
    right, bottom = left + int(rng.integers(4, size // 2)), top + int(rng.integers(4, size // 2))
    tint = tuple(int(v) for v in rng.integers(0, 256, 3))
    (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((left, top, right, bottom), fill=tint)
    return image


def colour_folder(root: Path, per_class: int = 20, size: int = 32, seed: int = 0,
                  classes: tuple[str, ...] = COLOUR_CLASSES) -> Path:
    """Write ``per_class`` PNGs per class into ``root/<class>/`` (class k: channel k dominates) and return ``root``."""
    rng = np.random.default_rng(seed)
    for channel, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour_picture(rng, channel % 3, size).save(root / name / f"{i:03d}.png")
    return root


def digit_folder(root: Path, fixture_npz: Path, count: int = 300) -> Path:
    """The fixture's first ``count`` training digits as PNGs in ``root/0`` .. ``root/9``."""
    with np.load(fixture_npz, allow_pickle=False) as npz:
        images, labels = npz["x_train"][:count], npz["y_train"][:count]
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{i:05d}.png")
    return root


def colour_classifier(path: Path, size: int = 32, class_names=COLOUR_CLASSES, data_sha256: str | None = None,
                      seed: int = 0) -> Path:
    """A classifier of ``size`` x ``size`` x 3 images: features = ReLU of channel means (and of 13 random
    projections), logits = 8 x the channel means (class k: channel k)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from gantool.runtime.classifier import META_PREFIX

    pixels = size * size * 3
    rng = np.random.default_rng(seed)
    means = np.zeros((pixels, 3), np.float32)
    for channel in range(3):
        means[channel::3, channel] = 1.0 / (size * size)
    weights = np.concatenate([means, rng.normal(0, 1 / np.sqrt(pixels), (pixels, 13)).astype(np.float32)], axis=1)
    to_logits = np.zeros((16, len(class_names)), np.float32)
    for k in range(len(class_names)):
        to_logits[k % 3, k] = 8.0
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]),
         helper.make_node("MatMul", ["flat", "weights"], ["hidden"]),
         helper.make_node("Add", ["hidden", "one"], ["shifted"]),  # channel means in [-1, 1] + 1: mostly positive
         helper.make_node("Relu", ["shifted"], ["features"]),
         helper.make_node("MatMul", ["features", "to_logits"], ["logits"])],
        "colour_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(class_names)]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 16])],
        initializer=[numpy_helper.from_array(np.array([-1, pixels], np.int64), "flat_shape"),
                     numpy_helper.from_array(weights, "weights"),
                     numpy_helper.from_array(np.ones(16, np.float32), "one"),
                     numpy_helper.from_array(to_logits, "to_logits")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gantool tests")
    model.ir_version = 8
    meta = {"class_names": json.dumps(list(class_names)), "image_shape": json.dumps([size, size, 3]),
            "accuracy": json.dumps(1.0)}
    if data_sha256:
        meta["data_sha256"] = data_sha256
    helper.set_model_props(model, {f"{META_PREFIX}{key}": value for key, value in meta.items()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def colour_generator(path: Path, size: int = 32, class_names=COLOUR_CLASSES, kind: str = "code",
                     seed: int = 0) -> Path:
    """A generator of ``size`` x ``size`` x 3 pictures whose class sets the dominant channel.

    ``kind`` ``code``: z (N, 8), its first 3 components name the class (contract ``digit_code`` 3): channel c
    of every pixel gets 1.5 z_c, plus a little of the other components. ``conditional``: z (N, 8) and an
    int32 ``label``; channel ``label`` gets +1.5, the rest as ``code``'s without the 1.5 z_c.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from gantool.runtime.contract import METADATA_KEY, ModelContract

    latent, pixels, classes = 8, size * size * 3, len(class_names)
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.1, (latent, pixels)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])]
    nodes = [helper.make_node("MatMul", ["z", "weights"], ["mixed"])]
    initializers = []
    if kind == "code":
        for channel in range(3):
            weights[channel, channel::3] += 1.5
        nodes.append(helper.make_node("Tanh", ["mixed"], ["flat"]))
        contract = {"digit_code": 3}
    else:
        table = np.zeros((classes, pixels), np.float32)
        for k in range(classes):
            table[k, k % 3::3] = 1.5
        inputs.append(helper.make_tensor_value_info("label", TensorProto.INT32, ["batch"]))
        initializers.append(numpy_helper.from_array(table, "table"))
        nodes += [helper.make_node("Gather", ["table", "label"], ["shift"], axis=0),
                  helper.make_node("Add", ["mixed", "shift"], ["both"]),
                  helper.make_node("Tanh", ["both"], ["flat"])]
        contract = {"num_classes": classes, "arch": "conditional"}
    nodes.append(helper.make_node("Reshape", ["flat", "shape"], ["image"]))
    initializers += [numpy_helper.from_array(weights, "weights"),
                     numpy_helper.from_array(np.array([-1, size, size, 3], np.int64), "shape")]
    graph = helper.make_graph(nodes, f"colour_{kind}", inputs,
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", size, size, 3])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gantool tests")
    model.ir_version = 8
    meta = ModelContract(latent_dim=latent, output_shape=(size, size, 3), class_names=tuple(class_names),
                         dataset="images", training={"data": {"source": "colours", "count": 60, "content_sha256": "ab" * 32}}, **contract)
    helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
