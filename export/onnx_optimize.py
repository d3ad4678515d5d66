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
   every input channel's taps (:mod:`gantool.export.narrow_conv`). Before it, such
   a Conv that reads a sub-pixel layer's DepthToSpace reads that layer's phases
   instead (:mod:`gantool.export.phase_tail`), so the widest map is never interleaved.

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
from gantool.export.fold_affine import fold_affine
from gantool.export.fourier_conv import rewrite_first_conv
from gantool.export.narrow_conv import rewrite_narrow_convs
from gantool.export.nchw_dense import drop_input_transpose
from gantool.export.onnx_graph import EditableGraph, spatial_size, tensor_shapes
from gantool.export.phase_tail import rewrite_narrow_tails
from gantool.export.subpixel import rewrite_conv_transpose

MIN_OPSET = 13


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
    fold_affine(graph)


def _subpixel(graph: EditableGraph, context: PassContext) -> int:
    # Without chaining no layer reads the previous one's phases; their phase forms are kept for the narrow tail.
    return sum(rewrite_conv_transpose(graph, node, context.phase_forms, context.shapes, context.estimate,
                                       chain=context.chain)
               for node in [n for n in graph.nodes if n.op_type == "ConvTranspose"])


def _narrow_tails(graph: EditableGraph, context: PassContext) -> int:
    return rewrite_narrow_tails(graph, context.phase_forms, context.shapes, context.estimate)


def _nchw_dense(graph: EditableGraph, context: PassContext) -> None:
    drop_input_transpose(graph)


def _dft_first_conv(graph: EditableGraph, context: PassContext) -> None:
    rewrite_first_conv(graph)


def _narrow_convs(graph: EditableGraph, context: PassContext) -> None:
    rewrite_narrow_convs(graph, context.estimate)


# The rewrites, in the order they run (steps 1-6 of the module docstring; step 3, the activation hoist,
# runs inside the sub-pixel pass, which knows where its Convs end), one module each: fold_affine.py,
# subpixel.py, phase_tail.py (step 6's first half), nchw_dense.py, fourier_conv.py, narrow_conv.py.
# Each is exact to float32 rounding (tests/test_onnx_optimize.py, tests/test_fourier_conv.py) and costs
# itself in estimate mode.
PASSES: tuple[GraphPass, ...] = (
    GraphPass("fold-batchnorm", _fold_affine),
    GraphPass("subpixel-conv-transpose", _subpixel),
    GraphPass("narrow-tail-on-phases", _narrow_tails, applies=lambda context: context.narrow),
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
            total += size * spatial_size(shapes.get(node.output[0]))
        elif node.op_type == "ConvTranspose":
            total += size * spatial_size(shapes.get(node.input[0]))
        elif node.op_type in ("Gemm", "MatMul") and len(weights[node.input[1]]) == 2:
            total += size
    return total
