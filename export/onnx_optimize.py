"""Rewrite tf2onnx's generator graph into operators onnxruntime runs fast.

tf2onnx turns the DCGAN generator into MatMul, BatchNorm as Mul/Add,
LeakyRelu, an NHWC Reshape + Transpose, and three ConvTranspose. On a CPU,
onnxruntime's ConvTranspose with many output channels is several times slower
than its Conv (and a Conv with few output channels slower than a ConvTranspose), so
:func:`optimize` rewrites the graph, with numpy on the constant weights:

1. BatchNorm's per-channel Mul/Add is folded into the preceding MatMul (which
   becomes a Gemm), Conv or ConvTranspose weights and bias.
2. Each ConvTranspose becomes Conv + DepthToSpace (:mod:`gantool.export.subpixel`):
   stride 1 needs only the flipped, in/out-transposed kernel; stride ``s``
   becomes a sub-pixel Conv with one channel group per output phase. Where
   the phases have fewer taps than the shared kernel (5 taps, stride 2: 2 and
   3), each phase gets its own Conv and a Concat joins them. A strided
   ConvTranspose reading such a DepthToSpace works on its input phases
   directly, so consecutive upsampling layers need one DepthToSpace at the end.
3. An elementwise activation after Concat/DepthToSpace/Slice moves right after
   the Conv(s), where onnxruntime fuses it into the convolution kernel.
4. The Dense layer's columns are permuted so its Reshape yields NCHW directly
   and the NHWC->NCHW Transpose disappears.
5. With ``fourier=True`` (the ``+fourier`` graph kinds)
   the "same" Conv right after the Dense layer (the 5x5 layer on the 7x7 map) is
   computed in the DFT domain (:mod:`gantool.export.fourier_conv`): MatMuls
   instead of a Conv that computes every tap of its zero padding. Faster at
   batch 64, slower at batch 1 (still faster than TF), and it holds the kernel's
   spectrum in memory; see that module.
6. With ``narrow=True`` (float graphs) a stride-1 Conv with few output channels
   (an image's last layer, a sub-pixel layer's phases of a grey image) becomes
   the equivalent stride-1 ConvTranspose, which onnxruntime runs without copying
   every input channel's taps (:mod:`gantool.export.narrow_conv`).

Everything stays NCHW inside; the graph keeps its input, output (NHWC),
dynamic batch axis and ``metadata_props``. A ConvTranspose this module cannot
rewrite exactly (dilation, groups, ``output_shape``, 1-D/3-D, unequal strides)
is refused with :class:`~gantool.errors.UnsupportedFormatError` rather than
left slow or rewritten wrongly. Patterns that merely do not match (a Mul whose
constant is not per-channel, say) are kept as they are, which is always correct.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gantool.errors import UnsupportedFormatError
from gantool.export.fourier_conv import rewrite_first_conv
from gantool.export.narrow_conv import rewrite_narrow_convs
from gantool.export.onnx_graph import (
    UNARY_ELEMENTWISE,
    EditableGraph,
    attributes,
    dense_to_map,
    is_plain_gemm,
    permute_dense_columns,
    tensor_shapes,
)
from gantool.export.subpixel import PhaseConv, multiply_adds, phase_weights, plan_axis, split_phases

MIN_OPSET = 13
# onnxruntime's fast (NCHWc) Conv works on blocks of 16 channels (one AVX-512
# register); splitting a phase Conv into narrower per-phase Convs measured slower.
SPLIT_MIN_CHANNELS = 16
_SLICE_TO_END = np.iinfo(np.int64).max


def optimize(proto, fourier: bool = False, chain: bool = True, estimate: bool = False, narrow: bool = True):
    """Return an optimized copy of the ONNX generator ``proto`` (``proto`` is untouched).

    Args:
        proto: an ``onnx.ModelProto`` as tf2onnx writes it (NCHW convolutions,
            constant weights as initializers).
        fourier: compute the first Conv in the DFT domain (step 5). Never for
            the int8 export: onnxruntime's int8 Conv is the fast path there.
        chain: let a strided ConvTranspose read the previous rewrite's phases (one
            DepthToSpace at the end). Its weights grow with the product of the strides
            (:mod:`gantool.export.graph_choice` estimates by how much); False rewrites each
            layer on its own, at about its own weight size.
        estimate: build nothing: return the rewritten graph's :class:`GraphCost` (weight
            bytes and multiply-adds per image), found by planning every rewrite with weights
            that are zero-stride views, so even a rewrite that would be huge allocates nothing.
        narrow: run narrow stride-1 Convs as ConvTranspose (step 6). Not for the int8 export,
            whose quantized Conv is onnxruntime's fast path.

    Returns:
        A new ``onnx.ModelProto`` computing the same function (to float32
        rounding) without ConvTranspose, with the same inputs, outputs and metadata.

    Raises:
        UnsupportedFormatError: the graph uses an opset below 13, or a
            ConvTranspose this module cannot rewrite exactly.
    """
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < MIN_OPSET:
        raise UnsupportedFormatError(
            f"the graph optimizer needs ONNX opset >= {MIN_OPSET}, got {opset}; export with `opset` {MIN_OPSET} or later")
    subgraphs = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    if any(a.type in subgraphs for n in model.graph.node for a in n.attribute):
        raise UnsupportedFormatError(
            "the graph optimizer does not handle control flow (If/Loop/Scan); export with `plain`")
    shapes = tensor_shapes(model)
    graph = EditableGraph(model.graph, {name: len(dims) for name, dims in shapes.items()})
    context = PassContext(shapes, chain, estimate, fourier, narrow)
    added_macs = 0
    for graph_pass in PASSES:
        if graph_pass.applies(context):
            added_macs += graph_pass.run(graph, context) or 0
    if estimate:
        read = {name for n in graph.nodes for name in n.input}
        weights = sum(value.nbytes for name, value in graph.consts.items() if name in read)
        return GraphCost(weights, graph_macs(proto) + added_macs)
    graph.write_back()
    return model


@dataclasses.dataclass
class PassContext:
    """What the passes share: the plain graph's tensor shapes, whether ConvTransposes chain through their
    phases, whether weights are placeholders (estimate), which optional passes run, and the phase forms one
    rewrite leaves the next."""

    shapes: dict
    chain: bool
    estimate: bool
    fourier: bool = False
    narrow: bool = True
    phase_forms: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GraphPass:
    """One rewrite of :data:`PASSES`: ``run(graph, context)`` edits the graph in place and returns the
    multiply-adds per image it adds (None: none); ``applies(context)`` says whether it runs."""

    name: str
    run: Callable
    applies: Callable[[PassContext], bool] = lambda context: True


def _fold_affine(graph: EditableGraph, context: PassContext) -> None:
    while _fold_affine_once(graph):
        pass


def _subpixel(graph: EditableGraph, context: PassContext) -> int:
    # Without chaining each layer starts from no phase form: a fresh dict per layer.
    return sum(_rewrite_conv_transpose(graph, node, context.phase_forms if context.chain else {}, context.shapes,
                                       context.estimate)
               for node in [n for n in graph.nodes if n.op_type == "ConvTranspose"])


def _nchw_dense(graph: EditableGraph, context: PassContext) -> None:
    _drop_input_transpose(graph)


def _dft_first_conv(graph: EditableGraph, context: PassContext) -> None:
    rewrite_first_conv(graph)


def _narrow_convs(graph: EditableGraph, context: PassContext) -> None:
    rewrite_narrow_convs(graph, context.estimate)


# The rewrites, in the order they run (steps 1-6 of the module docstring; step 3, the activation hoist,
# runs inside the sub-pixel pass, which knows where its Convs end). Each is exact to float32 rounding
# (tests/test_onnx_optimize.py, tests/test_fourier_conv.py) and costs itself in estimate mode.
PASSES: tuple[GraphPass, ...] = (
    GraphPass("fold-batchnorm", _fold_affine),
    GraphPass("subpixel-conv-transpose", _subpixel),
    GraphPass("nchw-dense", _nchw_dense),
    GraphPass("dft-first-conv", _dft_first_conv, applies=lambda context: context.fourier),
    GraphPass("narrow-conv-as-transpose", _narrow_convs, applies=lambda context: context.narrow),
)


@dataclasses.dataclass(frozen=True)
class GraphCost:
    """What a graph costs: bytes of its constant weights and multiply-adds per image (convolutions and
    fully connected layers; a DFT layer's MatMuls are not counted)."""

    weight_bytes: int
    macs: int


def graph_macs(proto) -> int:
    """Multiply-adds per image of ``proto``'s Conv, ConvTranspose and constant-weight Gemm/MatMul nodes."""
    shapes = tensor_shapes(proto)
    weights = {t.name: t.dims for t in proto.graph.initializer}
    total = 0
    for node in proto.graph.node:
        if len(node.input) < 2 or node.input[1] not in weights:
            continue
        size = int(np.prod(weights[node.input[1]]))
        if node.op_type == "Conv":
            total += size * _spatial(shapes.get(node.output[0]))
        elif node.op_type == "ConvTranspose":
            total += size * _spatial(shapes.get(node.input[0]))
        elif node.op_type in ("Gemm", "MatMul") and len(weights[node.input[1]]) == 2:
            total += size
    return total


def _spatial(dims) -> int:
    """Height x width of an NCHW tensor's shape (0 when unknown)."""
    if not dims or len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[2:]):
        return 0
    return dims[2] * dims[3]


def _channel_vector(constant: np.ndarray, channels: int, channel_axis: int, rank: int):
    """``constant`` as a length-``channels`` vector if it broadcasts along ``channel_axis`` only, else None."""
    if constant.ndim > rank:
        return None
    full = constant.reshape((1,) * (rank - constant.ndim) + constant.shape)
    if any(size != 1 for axis, size in enumerate(full.shape) if axis != channel_axis):
        return None
    if full.shape[channel_axis] not in (1, channels):
        return None
    return np.broadcast_to(full.reshape(-1), (channels,)).astype(np.float32)


def _fold_affine_once(graph: EditableGraph) -> bool:
    """Fold one per-channel Mul or Add by a constant into the MatMul/Gemm/Conv/ConvTranspose before it."""
    for node in graph.nodes:
        layout = _affine_layout(graph, node)
        if layout is None:
            continue
        follower = graph.sole_consumer(node.output[0])
        if follower is None or follower.op_type not in ("Mul", "Add") or len(follower.input) != 2:
            continue
        other = follower.input[1] if follower.input[0] == node.output[0] else follower.input[0]
        constant = graph.const(other)
        weight_name, channels, channel_axis, rank = layout
        vector = None if constant is None else _channel_vector(constant, channels, channel_axis, rank)
        if vector is None:
            continue
        weight = graph.consts[weight_name]
        bias = graph.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(channels, np.float32)
        if follower.op_type == "Mul":
            weight = weight * _weight_broadcast(node, vector)
            bias = bias * vector
        else:
            bias = bias + vector
        _set_weight_and_bias(graph, node, weight.astype(np.float32), bias.astype(np.float32))
        node.output[0] = follower.output[0]
        graph.remove(follower)
        return True
    return False


def _affine_layout(graph: EditableGraph, node):
    """(weight name, channels, channel axis, output rank) for a foldable node, else None."""
    weight = graph.const(node.input[1]) if len(node.input) > 1 else None
    if weight is None:
        return None
    has_bias = len(node.input) > 2 and node.input[2]
    if has_bias and graph.const(node.input[2]) is None:
        return None
    if node.op_type == "MatMul" and weight.ndim == 2 and graph.ranks.get(node.input[0]) == 2:
        # Only a 2-D MatMul can become a Gemm; a batched one is left as it is.
        return node.input[1], weight.shape[1], 1, 2
    if node.op_type == "Gemm" and weight.ndim == 2 and is_plain_gemm(node):
        bias = graph.const(node.input[2]) if has_bias else None
        if bias is None or bias.shape in ((weight.shape[1],), (1, weight.shape[1])):
            return node.input[1], weight.shape[1], 1, 2
        return None
    attrs = attributes(node)
    if node.op_type in ("Conv", "ConvTranspose") and weight.ndim == 4 and attrs.get("group", 1) == 1:
        channels = weight.shape[0] if node.op_type == "Conv" else weight.shape[1]
        return node.input[1], channels, 1, 4
    return None


def _weight_broadcast(node, vector: np.ndarray) -> np.ndarray:
    """``vector`` shaped to scale the output channels of ``node``'s weight."""
    if node.op_type in ("MatMul", "Gemm"):
        return vector.reshape(1, -1)
    if node.op_type == "Conv":
        return vector.reshape(-1, 1, 1, 1)
    return vector.reshape(1, -1, 1, 1)


def _set_weight_and_bias(graph: EditableGraph, node, weight: np.ndarray, bias: np.ndarray) -> None:
    """Give ``node`` new constant weight and bias inputs (a MatMul becomes a Gemm)."""
    from onnx import helper

    hint = node.name or node.output[0]
    inputs = [node.input[0], graph.add_const(f"{hint}/weight", weight), graph.add_const(f"{hint}/bias", bias)]
    if node.op_type == "MatMul":
        node.CopyFrom(helper.make_node("Gemm", inputs, list(node.output), name=node.name))
    else:
        node.input[:] = inputs


def _conv_transpose_plans(graph: EditableGraph, node, in_block: int):
    """The two axis plans for ``node``; raises if the rewrite would not be exact."""
    weight = graph.const(node.input[1])
    where = f"ConvTranspose {node.name or node.output[0]}"
    if weight is None or weight.ndim != 4:
        raise UnsupportedFormatError(
            f"{where}: the optimizer handles 2-D ConvTranspose with constant weights only; export with `plain`")
    attrs = attributes(node)
    unsupported = {
        "group": attrs.get("group", 1) != 1,
        "dilations": any(d != 1 for d in attrs.get("dilations", [1, 1])),
        "output_shape": "output_shape" in attrs,
        "auto_pad": attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"),
        "a non-constant bias": len(node.input) > 2 and bool(node.input[2]) and graph.const(node.input[2]) is None,
    }
    if any(unsupported.values()):
        names = ", ".join(k for k, v in unsupported.items() if v)
        raise UnsupportedFormatError(f"{where}: cannot rewrite a ConvTranspose with {names}; export with `plain`")
    strides = list(attrs.get("strides", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    output_padding = list(attrs.get("output_padding", [0, 0]))
    if strides[0] != strides[1]:
        raise UnsupportedFormatError(
            f"{where}: strides {strides} differ; DepthToSpace needs equal strides; export with `plain`")
    kernel = weight.shape[2:]
    return [plan_axis(kernel[a], strides[a], pads[a], pads[a + 2], output_padding[a], in_block) for a in range(2)]


def _rewrite_conv_transpose(graph: EditableGraph, node, phase_forms: dict, shapes: dict, estimate: bool) -> int:
    """Replace ``node`` by Conv(s) [+ DepthToSpace [+ Slice]] computing the same output.

    ``phase_forms`` maps a tensor made by an earlier rewrite's DepthToSpace to
    ``(phase tensor, block, DepthToSpace node)``; a strided ConvTranspose reading
    it reads the phase tensor instead, and that DepthToSpace goes away. With ``estimate``
    the new weights are zero-stride views (sizes without memory).

    Returns:
        The multiply-adds per image the rewrite adds (negative: saves); 0 where the input's size is unknown.
    """
    from onnx import helper

    source, in_block = node.input[0], 1
    chained = phase_forms.get(node.input[0])
    if chained and attributes(node).get("strides", [1, 1])[0] > 1 and graph.sole_consumer(node.input[0]) is node:
        source, in_block, depth_to_space = chained
        graph.remove(depth_to_space)
    plan_h, plan_w = _conv_transpose_plans(graph, node, in_block)
    weight = graph.consts[node.input[1]]
    has_bias = len(node.input) > 2 and node.input[2]
    bias = graph.consts[node.input[2]] if has_bias else np.zeros(weight.shape[1], np.float32)
    hint = node.name or node.output[0]
    if estimate:
        rows = plan_h.block * plan_w.block * weight.shape[1]
        conv_weight = np.broadcast_to(np.float32(0), (rows, plan_h.in_block * plan_w.in_block * weight.shape[0],
                                                       plan_h.kernel, plan_w.kernel))
        conv_bias = np.broadcast_to(np.float32(0), (rows,))
    else:
        conv_weight, conv_bias = phase_weights(weight, bias, plan_h, plan_w)
    convs, phases = _phase_convs(graph, hint, source, conv_weight, conv_bias, plan_h, plan_w, copy=not estimate)
    positions = _spatial(shapes.get(node.input[0]))
    new_weights = sum(graph.consts[conv.input[1]].size for conv in convs if conv.op_type == "Conv")
    added = new_weights * positions // (plan_h.in_block * plan_w.in_block) - weight.size * positions
    block, crop = plan_h.block, plan_h.crop_end or plan_w.crop_end
    tail = []
    if block > 1:
        tail.append(helper.make_node("DepthToSpace", [phases], [graph.name(f"{hint}/spatial")],
                                     name=graph.name(f"{hint}/depth_to_space"), blocksize=block, mode="DCR"))
    if crop:
        ends = [-plan.crop_end if plan.crop_end else _SLICE_TO_END for plan in (plan_h, plan_w)]
        slice_inputs = [tail[-1].output[0] if tail else phases,
                        graph.add_const(f"{hint}/crop_starts", np.zeros(2, np.int64)),
                        graph.add_const(f"{hint}/crop_ends", np.array(ends, np.int64)),
                        graph.add_const(f"{hint}/crop_axes", np.array([2, 3], np.int64))]
        tail.append(helper.make_node("Slice", slice_inputs, [graph.name(f"{hint}/cropped")],
                                     name=graph.name(f"{hint}/crop")))
    if tail:
        tail[-1].output[0] = node.output[0]
    else:
        convs[-1].output[0] = node.output[0]
    graph.replace(node, convs + tail)
    final = _hoist_activation(graph, convs, tail)
    if tail and not crop:
        phase_forms[final] = (tail[0].input[0], block, tail[0])
    return added


def _phase_convs(graph: EditableGraph, hint: str, source: str, conv_weight, conv_bias, plan_h, plan_w,
                 copy: bool = True):
    """The Conv nodes computing all phases (one Conv, or one per phase and a Concat) and their output name."""
    from onnx import helper

    phases = plan_h.block * plan_w.block
    wide = conv_weight.shape[0] // phases >= SPLIT_MIN_CHANNELS
    split = split_phases(conv_weight, conv_bias, plan_h, plan_w, copy) if wide else None
    single_taps, split_taps = multiply_adds(plan_h, plan_w, split)
    if split is None or split_taps >= single_taps or len(split) == 1:
        pads = [plan_h.pad_begin, plan_w.pad_begin, plan_h.pad_end, plan_w.pad_end]
        split = [PhaseConv(conv_weight, conv_bias, tuple(pads))]
    nodes = []
    for index, phase in enumerate(split):
        tag = f"{hint}/phase{index}" if len(split) > 1 else f"{hint}/conv"
        inputs = [source, graph.add_const(f"{tag}_weight", phase.weight), graph.add_const(f"{tag}_bias", phase.bias)]
        nodes.append(helper.make_node("Conv", inputs, [graph.name(tag)], name=graph.name(tag),
                                      kernel_shape=list(phase.weight.shape[2:]), pads=list(phase.pads),
                                      strides=[1, 1], dilations=[1, 1]))
    if len(nodes) > 1:
        nodes.append(helper.make_node("Concat", [n.output[0] for n in nodes], [graph.name(f"{hint}/phases")],
                                      name=graph.name(f"{hint}/concat"), axis=1))
    return nodes, nodes[-1].output[0]


def _hoist_activation(graph: EditableGraph, convs: list, tail: list) -> str:
    """Move a unary activation reading the rewrite's output to right after its Conv(s).

    The activation is elementwise, so it commutes with Concat, DepthToSpace and
    Slice; right after a Conv, onnxruntime fuses it into the convolution kernel.

    Returns:
        The name of the rewrite's final (now activated) tensor.
    """
    from onnx import helper

    if not tail:
        return convs[-1].output[0]
    activation = graph.sole_consumer(tail[-1].output[0])
    if activation is None or activation.op_type not in UNARY_ELEMENTWISE or len(activation.input) != 1:
        return tail[-1].output[0]
    graph.remove(activation)
    tail[-1].output[0] = activation.output[0]
    for conv in [n for n in convs if n.op_type == "Conv"]:
        raw = graph.name(f"{conv.output[0]}/raw")
        activated = conv.output[0]
        conv.output[0] = raw
        copy = helper.make_node(activation.op_type, [raw], [activated],
                                name=graph.name(f"{conv.name}/{activation.op_type}"))
        copy.attribute.extend(activation.attribute)
        graph.replace(conv, [conv, copy])
    return activation.output[0]


def _drop_input_transpose(graph: EditableGraph) -> None:
    """Turn Dense -> [activations] -> Reshape(NHWC) -> Transpose(NCHW) into Dense' -> [activations] -> Reshape(NCHW).

    Permuting the Dense layer's columns (and bias) into channel-major order
    makes the Reshape produce NCHW directly, so the Transpose goes away. The
    activations in between are elementwise, so they do not mind the new order.
    """
    for dense in [n for n in graph.nodes if n.op_type in ("MatMul", "Gemm")]:
        match = _dense_to_nchw(graph, dense)
        if match is None:
            continue
        reshape, transpose, (height, width, channels) = match
        permute_dense_columns(graph, dense, (height, width, channels), (2, 0, 1), "nchw")
        batch = graph.consts[reshape.input[1]][0]
        nchw = np.array([batch, channels, height, width], np.int64)
        reshape.input[1] = graph.add_const(f"{reshape.input[1]}/nchw", nchw)
        for reader in graph.nodes:
            reader.input[:] = [reshape.output[0] if name == transpose.output[0] else name for name in reader.input]
        graph.remove(transpose)


def _dense_to_nchw(graph: EditableGraph, dense):
    """``(reshape, transpose, (height, width, channels))`` if ``dense`` starts the NHWC->NCHW pattern, else None."""
    match = dense_to_map(graph, dense)
    if match is None:
        return None
    reshape, dims = match
    transpose = graph.sole_consumer(reshape.output[0])
    if transpose is None or transpose.op_type != "Transpose" or transpose.output[0] in graph.outputs:
        return None
    if list(attributes(transpose).get("perm", [])) != [0, 3, 1, 2]:
        return None
    return reshape, transpose, dims
