"""The optimized ONNX graph: every rewrite computes what the plain graph computes.

Small ConvTranspose graphs with random weights check the sub-pixel derivation
against onnxruntime's own ConvTranspose for many kernel/stride/pad combinations;
the tiny trained generator checks the whole rewrite against the plain export
and Keras. Speed is measured by benchmarks/tf_vs_onnx.py, not here.
"""

from __future__ import annotations

import numpy as np
import pytest

from gantool.errors import UnsupportedFormatError
from gantool.runtime import latents

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gantool.export.onnx_optimize import optimize  # noqa: E402
from gantool.runtime.contract import GRAPH_METADATA_KEY  # noqa: E402

RNG = np.random.default_rng(0)


def run(proto, feeds: dict) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def model(nodes, inputs, constants, opset: int = 17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, ["n", "c", "h", "w"])],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in constants.items()],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    helper.set_model_props(proto, {"gantool.contract": "{}", "other": "kept"})
    return proto


def conv_transpose(name, source, c_in, c_out, kernel, constants, bias=True, **attrs):
    """A ConvTranspose node with random weights (and bias) registered in ``constants``."""
    constants[f"{name}_w"] = RNG.standard_normal((c_in, c_out, kernel, kernel)).astype(np.float32) / kernel
    inputs = [source, f"{name}_w"]
    if bias:
        constants[f"{name}_b"] = RNG.standard_normal(c_out).astype(np.float32)
        inputs.append(f"{name}_b")
    return helper.make_node("ConvTranspose", inputs, [name], kernel_shape=[kernel, kernel], **attrs)


def assert_same(proto, feeds, atol=1e-5, narrow=False):
    """``optimize(proto, narrow=narrow)`` computes what ``proto`` does; without ``narrow`` no ConvTranspose is
    left, with it only stride-1 ones (narrow Convs in their ConvTranspose form)."""
    optimized = optimize(proto, narrow=narrow)
    onnx.checker.check_model(optimized, full_check=True)
    for node in optimized.graph.node:
        if node.op_type == "ConvTranspose":
            assert narrow and next(a.ints for a in node.attribute if a.name == "strides") == [1, 1]
    expected, got = run(proto, feeds), run(optimized, feeds)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= atol
    return optimized


# kernel, stride, pads (top, left, bottom, right), output_padding, size, channels in -> out
CASES = [
    (5, 2, [1, 1, 2, 2], 0, 7, 8, 3),     # the DCGAN's "same" layers
    (5, 1, [2, 2, 2, 2], 0, 6, 4, 5),     # stride 1 -> plain Conv with flipped kernel
    (3, 2, [0, 0, 0, 0], 1, 5, 3, 2),     # output_padding, no pads
    (4, 2, [1, 1, 1, 1], 0, 4, 3, 16),    # the PyTorch DCGAN layer; 16 channels take the per-phase split
    (4, 3, [1, 2, 2, 0], 0, 4, 2, 3),     # stride 3, asymmetric pads: needs a crop
    (2, 3, [0, 0, 0, 0], 0, 3, 2, 2),     # kernel < stride: phases without taps
    (3, 1, [0, 1, 2, 0], 0, 5, 3, 2),     # stride 1, uneven pads
    (5, 2, [3, 3, 3, 3], 1, 6, 2, 32),    # large pads and output_padding, split
    (5, 3, [0, 1, 1, 3], 0, 4, 3, 16),    # split and a different crop per axis
]


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("kernel,stride,pads,output_padding,size,c_in,c_out", CASES)
def test_conv_transpose_rewrite_matches_onnxruntime(kernel, stride, pads, output_padding, size, c_in, c_out, narrow):
    constants = {}
    node = conv_transpose("y", "x", c_in, c_out, kernel, constants, strides=[stride, stride], pads=pads,
                          output_padding=[output_padding, output_padding])
    proto = model([node], [("x", ["n", c_in, size, size])], constants)
    x = RNG.standard_normal((3, c_in, size, size)).astype(np.float32)
    assert_same(proto, {"x": x}, narrow=narrow)


# out channels, kernel (h, w), pads (top, left, bottom, right), bias, activation after
NARROW_CASES = [
    (1, (7, 7), [3, 3, 3, 3], True, "Sigmoid"),   # keras-io's MNIST generators' last layer
    (3, (5, 5), [2, 2, 2, 2], False, "Tanh"),     # a colour image's last layer
    (4, (2, 3), [1, 1, 0, 1], True, None),        # a sub-pixel phase Conv: uneven kernel and pads
    (12, (3, 3), [0, 0, 0, 0], True, None),       # above 8 outputs only with 3x as many inputs (here 48)
]


@pytest.mark.parametrize("c_out,kernel,pads,bias,activation", NARROW_CASES)
def test_a_narrow_conv_becomes_its_conv_transpose_form(c_out, kernel, pads, bias, activation):
    c_in = max(6, 4 * c_out)
    scale = 1 / np.sqrt(c_in * kernel[0] * kernel[1])  # outputs of order 1: the 1e-5 bound is absolute
    constants = {"w": (RNG.standard_normal((c_out, c_in, *kernel)) * scale).astype(np.float32)}
    inputs = ["x", "w"]
    if bias:
        constants["b"] = RNG.standard_normal(c_out).astype(np.float32)
        inputs.append("b")
    nodes = [helper.make_node("Conv", inputs, ["c"], kernel_shape=list(kernel), pads=pads)]
    if activation:
        nodes.append(helper.make_node(activation, ["c"], ["y"]))
    proto = model(nodes, [("x", ["n", c_in, 9, 9])], constants)
    optimized = assert_same(proto, {"x": RNG.standard_normal((2, c_in, 9, 9)).astype(np.float32)}, narrow=True)
    assert [n.op_type for n in optimized.graph.node][0] == "ConvTranspose"
    assert [n.op_type for n in optimize(proto, narrow=False).graph.node][0] == "Conv"


@pytest.mark.parametrize("attrs,c_in,c_out", [({"strides": [2, 2]}, 6, 1), ({"dilations": [2, 2]}, 6, 1),
                                              ({"group": 2}, 6, 2), ({}, 64, 17), ({}, 32, 12),
                                              ({"pads": [3, 0, 0, 0]}, 6, 1)])
def test_a_conv_the_transpose_form_does_not_fit_stays_a_conv(attrs, c_in, c_out):
    """Strided, dilated, grouped, too wide (17 outputs; 12 from fewer than 36 inputs) or padded beyond the kernel."""
    attrs = {"pads": [1, 1, 1, 1], **attrs}
    weight = RNG.standard_normal((c_out, c_in // attrs.get("group", 1), 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], **attrs)
    proto = model([node], [("x", ["n", c_in, 9, 9])], {"w": weight})
    optimized = assert_same(proto, {"x": RNG.standard_normal((2, c_in, 9, 9)).astype(np.float32)}, narrow=True)
    assert [n.op_type for n in optimized.graph.node] == ["Conv"]


@pytest.mark.parametrize("with_activation", [True, False])
@pytest.mark.parametrize("kernel,pads,blocks", [(5, [1, 1, 2, 2], [4]), (3, [0, 0, 0, 0], [2, 2])])
def test_chained_conv_transposes_share_one_depth_to_space(with_activation, kernel, pads, blocks):
    """Two strided layers: the second reads the first's phases, so one DepthToSpace(4) is left.

    When the first layer's output needs a crop its phases overshoot, so it keeps its own DepthToSpace.
    """
    constants = {}
    nodes = [conv_transpose("a", "x", 4, 16, kernel, constants, strides=[2, 2], pads=pads)]
    if with_activation:
        nodes.append(helper.make_node("LeakyRelu", ["a"], ["a_act"], alpha=0.3))
    nodes.append(conv_transpose("b", nodes[-1].output[0], 16, 2, 5, constants, strides=[2, 2], pads=[1, 1, 2, 2]))
    nodes.append(helper.make_node("Tanh", ["b"], ["y"]))
    proto = model(nodes, [("x", ["n", 4, 5, 5])], constants)
    optimized = assert_same(proto, {"x": RNG.standard_normal((2, 4, 5, 5)).astype(np.float32)})
    depth_to_space = [n for n in optimized.graph.node if n.op_type == "DepthToSpace"]
    assert [n.attribute[0].i for n in depth_to_space if n.attribute[0].name == "blocksize"] == blocks
    ops = [n.op_type for n in optimized.graph.node]
    assert ops.index("Tanh") < len(ops) - 1 - ops[::-1].index("DepthToSpace")  # hoisted next to its Conv


def _tail_model(c_out: int, kernel: int, wide_pads, extra_reader: bool = False):
    """ConvTranspose 4 -> 16 (stride 2) -> LeakyRelu -> a narrow ``kernel`` x ``kernel`` Conv (16 -> ``c_out``) -> Tanh."""
    constants = {}
    nodes = [conv_transpose("a", "x", 4, 16, 4, constants, strides=[2, 2], pads=wide_pads),
             helper.make_node("LeakyRelu", ["a"], ["a_act"], alpha=0.2)]
    constants["w"] = (RNG.standard_normal((c_out, 16, kernel, kernel)) / (4 * kernel)).astype(np.float32)
    constants["b"] = RNG.standard_normal(c_out).astype(np.float32)
    pad = (kernel - 1) // 2
    nodes.append(helper.make_node("Conv", ["a_act", "w", "b"], ["c"], kernel_shape=[kernel, kernel], pads=[pad] * 4))
    nodes.append(helper.make_node("Tanh", ["c"], ["t"]))
    if extra_reader:
        nodes.append(helper.make_node("ReduceMean", ["a_act"], ["m"], axes=[1, 2, 3], keepdims=1))
        nodes.append(helper.make_node("Add", ["t", "m"], ["y"]))
    return model(nodes, [("x", [2, 4, 5, 5])], constants)


def _depth_to_space_channels(proto) -> list[int]:
    """The channel count of every DepthToSpace's input (shape inference on the fixed input shape)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.graph.value_info}
    return [dims[n.input[0]][1] for n in inferred.graph.node if n.op_type == "DepthToSpace"]


@pytest.mark.parametrize("chain", [False, True])
@pytest.mark.parametrize("c_out,kernel", [(1, 7), (3, 5), (1, 5)])
def test_a_narrow_tail_reads_the_phases_not_the_interleaved_map(c_out, kernel, chain):
    """The wide map (16 channels, 4 * 16 phases) is never interleaved: the only DepthToSpace moves the image's
    4 * c_out phases."""
    proto = _tail_model(c_out, kernel, [1, 1, 1, 1])
    x = {"x": RNG.standard_normal((2, 4, 5, 5)).astype(np.float32)}
    optimized = optimize(proto, narrow=True, chain=chain)
    onnx.checker.check_model(optimized, full_check=True)
    assert np.abs(run(optimized, x) - run(proto, x)).max() <= 1e-5
    assert _depth_to_space_channels(optimized) == [4 * c_out]
    assert _depth_to_space_channels(optimize(proto, narrow=False, chain=chain)) == [4 * 16]
    # The per-phase Convs' Concat goes too where each part (4 * c_out outputs from 16 inputs) is narrow.
    assert ("Concat" in [n.op_type for n in optimized.graph.node]) == (c_out == 3)


@pytest.mark.parametrize("case", ["second reader", "cropped phases", "wide conv", "3x3 kernel"])
def test_a_tail_that_does_not_fit_reads_the_interleaved_map(case):
    """A second reader of the map, a layer whose phases need a crop (no phase form), a Conv that is not
    narrow, or a 3x3 kernel (4x the multiply-adds on the phases, beyond MAX_MAC_GROWTH)."""
    c_out = 17 if case == "wide conv" else 3
    pads = [1, 1, 2, 2] if case == "cropped phases" else [1, 1, 1, 1]
    proto = _tail_model(c_out, 3 if case == "3x3 kernel" else 5, pads, extra_reader=case == "second reader")
    x = {"x": RNG.standard_normal((2, 4, 5, 5)).astype(np.float32)}
    optimized = optimize(proto, narrow=True, chain=False)
    assert np.abs(run(optimized, x) - run(proto, x)).max() <= 1e-5
    assert _depth_to_space_channels(optimized) == [4 * 16]


def test_the_tail_growth_is_what_the_rule_reads():
    """2x2 phases: 5x5 -> 3x3 on 4x the channels (1.44x) and 7x7 -> 5x5 (2.04x) apply; 3x3 -> 3x3 (4x) does not."""
    from gantool.export.phase_tail import MAX_MAC_GROWTH, tail_mac_growth

    growth = {k: tail_mac_growth((k, k), [(k - 1) // 2] * 4, 2) for k in (3, 5, 7)}
    assert growth == pytest.approx({3: 4.0, 5: 1.44, 7: 100 / 49})
    assert growth[5] < growth[7] <= MAX_MAC_GROWTH < growth[3]


def test_batchnorm_and_transpose_folding():
    """MatMul -> Mul -> Add -> LeakyRelu -> Reshape(NHWC) -> Transpose becomes Gemm -> LeakyRelu -> Reshape(NCHW)."""
    constants = {"w": RNG.standard_normal((6, 3 * 3 * 8)).astype(np.float32),
                 "scale": RNG.uniform(0.5, 1.5, 72).astype(np.float32), "shift": RNG.standard_normal(72).astype(np.float32),
                 "shape": np.array([-1, 3, 3, 8], np.int64),
                 "c_scale": RNG.uniform(0.5, 1.5, (1, 4, 1, 1)).astype(np.float32),
                 "c_shift": RNG.standard_normal((1, 4, 1, 1)).astype(np.float32)}
    nodes = [
        helper.make_node("MatMul", ["z", "w"], ["m"]), helper.make_node("Mul", ["m", "scale"], ["s"]),
        helper.make_node("Add", ["shift", "s"], ["a"]), helper.make_node("LeakyRelu", ["a"], ["l"], alpha=0.3),
        helper.make_node("Reshape", ["l", "shape"], ["r"]), helper.make_node("Transpose", ["r"], ["t"], perm=[0, 3, 1, 2]),
        conv_transpose("c", "t", 8, 4, 3, constants, bias=False, strides=[2, 2], pads=[1, 1, 0, 0]),
        helper.make_node("Mul", ["c", "c_scale"], ["cs"]), helper.make_node("Add", ["cs", "c_shift"], ["y"]),
    ]
    proto = model(nodes, [("z", ["n", 6])], constants)
    optimized = assert_same(proto, {"z": RNG.standard_normal((5, 6)).astype(np.float32)})
    ops = [n.op_type for n in optimized.graph.node]
    assert ops[:3] == ["Gemm", "LeakyRelu", "Reshape"]
    assert not {"Mul", "Add", "Transpose", "MatMul"} & set(ops)


def test_non_channel_constants_are_left_alone():
    """A Mul by a per-pixel constant is not BatchNorm: it stays, and the result is still right."""
    constants = {"pixels": RNG.standard_normal((1, 1, 6, 6)).astype(np.float32)}
    nodes = [conv_transpose("c", "x", 2, 3, 4, constants, strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "pixels"], ["y"])]
    proto = model(nodes, [("x", ["n", 2, 3, 3])], constants)
    optimized = assert_same(proto, {"x": RNG.standard_normal((2, 2, 3, 3)).astype(np.float32)})
    assert "Mul" in {n.op_type for n in optimized.graph.node}


def test_batched_matmul_is_not_turned_into_gemm():
    """Gemm is 2-D only: a MatMul on a 3-D input keeps its Mul, and the result is still right."""
    constants = {"w": RNG.standard_normal((4, 6)).astype(np.float32), "scale": RNG.standard_normal(6).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Mul", ["m", "scale"], ["s"]),
             helper.make_node("Reshape", ["s", "shape"], ["y"])]
    constants["shape"] = np.array([-1, 2, 3, 2], np.int64)
    proto = model(nodes, [("x", ["n", 2, 4])], constants)
    optimized = assert_same(proto, {"x": RNG.standard_normal((3, 2, 4)).astype(np.float32)})
    assert [n.op_type for n in optimized.graph.node] == ["MatMul", "Mul", "Reshape"]


def test_control_flow_is_refused():
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["out"])], "branch", [],
                               [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", "c", "h", "w"])])
    nodes = [helper.make_node("If", ["flag"], ["y"], then_branch=branch, else_branch=branch)]
    proto = model(nodes, [("x", ["n", 1, 2, 2])], {"flag": np.array(True)})
    with pytest.raises(UnsupportedFormatError, match="control flow"):
        optimize(proto)


@pytest.mark.parametrize("attrs,message", [
    ({"group": 2}, "group"),
    ({"dilations": [2, 2]}, "dilations"),
    ({"strides": [2, 1]}, "strides"),
    ({"output_shape": [6, 6]}, "output_shape"),
])
def test_unsupported_conv_transpose_is_refused(attrs, message):
    constants = {}
    node = conv_transpose("y", "x", 4, 2, 3, constants, **{"strides": [2, 2], **attrs})
    proto = model([node], [("x", ["n", 4, 3, 3])], constants)
    with pytest.raises(UnsupportedFormatError, match=message):
        optimize(proto)


def test_old_opset_is_refused():
    constants = {}
    proto = model([conv_transpose("y", "x", 2, 2, 3, constants, strides=[2, 2])], [("x", ["n", 2, 3, 3])], constants,
                  opset=11)
    with pytest.raises(UnsupportedFormatError, match="opset"):
        optimize(proto)


def test_metadata_is_kept_and_input_untouched():
    constants = {}
    proto = model([conv_transpose("y", "x", 2, 2, 3, constants, strides=[2, 2])], [("x", ["n", 2, 3, 3])], constants)
    before = proto.SerializeToString()
    optimized = optimize(proto)
    assert proto.SerializeToString() == before
    assert {p.key: p.value for p in optimized.metadata_props} == {"gantool.contract": "{}", "other": "kept"}


# The tiny trained generator, end to end.

@pytest.fixture(scope="module")
def plain_and_optimized(tiny_keras):
    from gantool.export.keras_to_onnx import to_onnx_proto

    model_, contract = tiny_keras
    plain = to_onnx_proto(model_, contract)
    return plain, optimize(plain)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_optimized_generator_matches_plain_and_keras(tiny_keras, plain_and_optimized, batch):
    keras_model, contract = tiny_keras
    plain, optimized = plain_and_optimized
    z = latents(batch, contract.latent_dim, seed=300 + batch)
    expected = np.asarray(keras_model(z, training=False))
    from_plain, from_optimized = run(plain, {"z": z}), run(optimized, {"z": z})
    assert from_optimized.shape == (batch, 28, 28, 1)
    assert np.abs(from_optimized - expected).max() <= 1e-5
    assert np.abs(from_optimized - from_plain).max() <= 1e-5


@pytest.mark.slow
def test_optimized_generator_graph(plain_and_optimized):
    plain, optimized = plain_and_optimized
    onnx.checker.check_model(optimized, full_check=True)
    ops = [n.op_type for n in optimized.graph.node]
    assert not upsampling_conv_transposes(optimized) and "Transpose" not in ops and "MatMul" not in ops
    assert ops.count("ConvTranspose") == 1  # the last layer's 16 phases of one channel: a narrow Conv
    assert ops.count("DepthToSpace") == 1
    assert [i.name for i in optimized.graph.input] == ["z"] and [o.name for o in optimized.graph.output] == ["image"]
    assert optimized.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    props = {p.key: p.value for p in optimized.metadata_props}
    assert props == {p.key: p.value for p in plain.metadata_props}
    assert props[GRAPH_METADATA_KEY] == "plain"  # optimize() itself keeps metadata; the export sets the kind


def upsampling_conv_transposes(proto) -> list:
    """The ConvTranspose nodes of ``proto`` with a stride above 1 (the rewrites leave only stride-1 ones)."""
    return [n for n in proto.graph.node if n.op_type == "ConvTranspose"
            and any(s != 1 for a in n.attribute if a.name == "strides" for s in a.ints)]


def conv_kernels(proto) -> list[tuple[int, ...]]:
    """The (kh, kw) of every Conv in ``proto``."""
    sizes = {init.name: tuple(init.dims) for init in proto.graph.initializer}
    return [sizes[n.input[1]][2:] for n in proto.graph.node if n.op_type == "Conv"]


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 64])
def test_fourier_generator_matches_keras(tiny_keras, plain_and_optimized, batch):
    """--graph optimized+fourier: the 5x5 layer on the 7x7 map becomes DFT MatMuls between two Transposes; same images."""
    keras_model, contract = tiny_keras
    plain, optimized = plain_and_optimized
    fourier = optimize(plain, fourier=True)
    onnx.checker.check_model(fourier, full_check=True)
    ops = [n.op_type for n in fourier.graph.node]
    assert ops.count("Transpose") == 2 and ops.count("MatMul") == 4
    assert (5, 5) in conv_kernels(optimized) and max(max(k) for k in conv_kernels(fourier)) <= 3
    z = latents(batch, contract.latent_dim, seed=9)
    assert np.abs(run(fourier, {"z": z}) - np.asarray(keras_model(z, training=False))).max() <= 1e-5


@pytest.mark.slow
def test_export_records_graph_kind(tiny_onnx, tiny_keras):
    from gantool.export.keras_to_onnx import to_onnx_proto

    proto = onnx.load(tiny_onnx)  # exported with the defaults
    assert {p.key: p.value for p in proto.metadata_props}[GRAPH_METADATA_KEY] == "optimized+fourier"
    assert not upsampling_conv_transposes(proto)
    direct = to_onnx_proto(*tiny_keras, graph="optimized")
    assert {p.key: p.value for p in direct.metadata_props}[GRAPH_METADATA_KEY] == "optimized"
