"""ConvTranspose as Conv + DepthToSpace: the index arithmetic, in numpy only.

A ConvTranspose with stride ``s`` writes input ``i`` times kernel tap ``k``
to output ``o = s*i + k - pad_begin``. Grouping outputs by phase, ``o = S*q + R``,
turns it into an ordinary correlation per phase: a Conv with ``S*S*C_out``
output channels followed by ``DepthToSpace(S)`` computes the same thing without
the scatter that makes onnxruntime's ConvTranspose slow.

The input may itself be in *phase form*: the ``b*b*C_in`` channels that feed a
``DepthToSpace(b)`` (``x[b*a + beta] = phases[beta][a]``). Then ``S = b*s`` and
the DepthToSpace in between disappears, so a chain of ConvTranspose layers needs
only one DepthToSpace at the end. ``b = 1`` is the plain case, and a stride-1
ConvTranspose becomes a Conv with the flipped, in/out-transposed kernel and pads
``k-1-p``. Everything is exact: each Conv weight is a copy of one ConvTranspose
weight or zero. :func:`rewrite_conv_transpose` (the pass ``subpixel-conv-transpose`` of
:mod:`gantool.export.onnx_optimize`) puts the result into a graph.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gantool.errors import UnsupportedFormatError
from gantool.export.onnx_graph import UNARY_ELEMENTWISE, EditableGraph, attributes, spatial_size

# onnxruntime's fast (NCHWc) Conv works on blocks of 16 channels (one AVX-512
# register); splitting a phase Conv into narrower per-phase Convs measured slower.
SPLIT_MIN_CHANNELS = 16
_SLICE_TO_END = np.iinfo(np.int64).max


@dataclasses.dataclass(frozen=True)
class AxisPlan:
    """How one spatial axis of a ConvTranspose maps onto a Conv over phases.

    Args:
        block: the output phase block ``S`` (input block times stride).
        in_block: the input's phase block ``b`` (1: an ordinary spatial input).
        kernel: the Conv's kernel length.
        pad_begin, pad_end: the Conv's pads.
        crop_end: outputs to drop at the end after DepthToSpace.
        taps: ``(input_phase, kernel_tap, output_phase, conv_tap)`` for every
            ConvTranspose tap: Conv weight ``[output_phase, input_phase, conv_tap]``
            holds ConvTranspose kernel tap ``kernel_tap``.
    """

    block: int
    in_block: int
    kernel: int
    pad_begin: int
    pad_end: int
    crop_end: int
    taps: tuple[tuple[int, int, int, int], ...]


def plan_axis(kernel: int, stride: int, pad_begin: int, pad_end: int, output_padding: int = 0,
              in_block: int = 1) -> AxisPlan:
    """Derive one axis of the Conv equivalent to a ConvTranspose (dilation 1).

    Input ``b*a + beta`` and tap ``k`` land on output ``S*a + t`` with
    ``t = s*beta + k - pad_begin``, i.e. output phase ``t mod S`` at coarse
    position ``a + t // S``: a correlation with Conv tap ``pad - t // S``.
    The output length ``s*(b*n - 1) + output_padding + kernel - pads`` is
    ``S*n + extra``, so the Conv must yield ``n + ceil(extra / S)`` positions;
    a surplus (when the end pad would be negative) is cropped after DepthToSpace.
    """
    block = in_block * stride
    placed = []
    for input_phase in range(in_block):
        for kernel_tap in range(kernel):
            offset = stride * input_phase + kernel_tap - pad_begin
            placed.append((input_phase, kernel_tap, offset % block, offset // block))
    shifts = [shift for *_, shift in placed]
    pad = max(max(shifts), 0)
    size = pad - min(shifts) + 1
    extra = output_padding + kernel - pad_begin - pad_end - stride
    conv_pad_end = max(-(-extra // block) + size - 1 - pad, 0)
    crop_end = block * (pad + conv_pad_end - size + 1) - extra
    taps = tuple((beta, k, phase, pad - shift) for beta, k, phase, shift in placed)
    return AxisPlan(block, in_block, size, pad, conv_pad_end, crop_end, taps)


def phase_weights(weight: np.ndarray, bias: np.ndarray, plan_h: AxisPlan, plan_w: AxisPlan):
    """The Conv weight and bias for ConvTranspose ``weight`` ``(C_in, C_out, kh, kw)``.

    Output channel ``(R_h*S + R_w)*C_out + c`` (DepthToSpace's DCR order); input
    channel ``(beta_h*b + beta_w)*C_in + c`` (the phase form's order).

    Returns:
        ``(conv_weight, conv_bias)`` shaped ``(S*S*C_out, b*b*C_in, kernel_h, kernel_w)`` and ``(S*S*C_out,)``.
    """
    c_in, c_out = weight.shape[:2]
    conv = np.zeros((plan_h.block, plan_w.block, c_out, plan_h.in_block, plan_w.in_block, c_in,
                     plan_h.kernel, plan_w.kernel), np.float32)
    for beta_h, tap_h, phase_h, conv_h in plan_h.taps:
        for beta_w, tap_w, phase_w, conv_w in plan_w.taps:
            conv[phase_h, phase_w, :, beta_h, beta_w, :, conv_h, conv_w] = weight[:, :, tap_h, tap_w].T
    phases = plan_h.block * plan_w.block
    shape = (phases * c_out, plan_h.in_block * plan_w.in_block * c_in, plan_h.kernel, plan_w.kernel)
    return conv.reshape(shape), np.tile(np.asarray(bias, np.float32), phases)


@dataclasses.dataclass(frozen=True)
class PhaseConv:
    """One output phase's Conv, its kernel cropped to the taps that are not always zero."""

    weight: np.ndarray
    bias: np.ndarray
    pads: tuple[int, int, int, int]


def split_phases(conv_weight: np.ndarray, conv_bias: np.ndarray, plan_h: AxisPlan, plan_w: AxisPlan, copy: bool = True):
    """Split a phase Conv into one Conv per output phase, each with only its own taps.

    A stride-2, 5-tap kernel gives phases of 2 and 3 taps per axis: one 3x3
    Conv over all phases does 36 multiply-adds where the phases need 25.
    Which kernel rows and columns a phase uses follows from the plans, not from
    the weight values; the cropped rows are zero, so results stay bit for bit equal.

    ``copy=False`` keeps each phase's weight a view (for an estimate of the sizes: nothing is allocated).

    Returns:
        A list of :class:`PhaseConv` in DCR channel order, or None when a phase
        has no taps or would need a negative pad (then use the single Conv).
    """
    phases = plan_h.block * plan_w.block
    weights = conv_weight.reshape(phases, -1, *conv_weight.shape[1:])
    biases = conv_bias.reshape(phases, -1)
    split = []
    for index, (weight, bias) in enumerate(zip(weights, biases, strict=False)):
        phase_h, phase_w = divmod(index, plan_w.block)
        rows = sorted({conv for _, _, phase, conv in plan_h.taps if phase == phase_h})
        cols = sorted({conv for _, _, phase, conv in plan_w.taps if phase == phase_w})
        if not rows or not cols:
            return None
        pads = (plan_h.pad_begin - rows[0], plan_w.pad_begin - cols[0],
                plan_h.pad_end - (plan_h.kernel - 1 - rows[-1]), plan_w.pad_end - (plan_w.kernel - 1 - cols[-1]))
        if min(pads) < 0:
            return None
        cropped = weight[:, :, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        split.append(PhaseConv(np.ascontiguousarray(cropped) if copy else cropped,
                               np.ascontiguousarray(bias) if copy else bias, pads))
    return split


def multiply_adds(plan_h: AxisPlan, plan_w: AxisPlan, split: list[PhaseConv] | None) -> tuple[int, int]:
    """Kernel taps per output pixel block: (single Conv, split Convs); compares the two forms' work."""
    single = plan_h.block * plan_w.block * plan_h.kernel * plan_w.kernel
    return single, (single if split is None else sum(p.weight.shape[2] * p.weight.shape[3] for p in split))


# --- the graph rewrite (pass ``subpixel-conv-transpose`` of gantool.export.onnx_optimize) ---


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


def rewrite_conv_transpose(graph: EditableGraph, node, phase_forms: dict, shapes: dict, estimate: bool,
                           chain: bool = True, any_stride: bool = False) -> int:
    """Replace ``node`` by Conv(s) [+ DepthToSpace [+ Slice]] computing the same output.

    ``phase_forms`` maps a tensor made by an earlier rewrite's DepthToSpace to
    ``(phase tensor, block, DepthToSpace node)``; with ``chain`` a strided ConvTranspose
    (any ConvTranspose with ``any_stride``) reading it reads the phase tensor instead, and
    that DepthToSpace goes away. This rewrite's own phase form is added to ``phase_forms``
    either way. With ``estimate`` the new weights are zero-stride views (sizes without memory).

    Returns:
        The multiply-adds per image the rewrite adds (negative: saves); 0 where the input's size is unknown.
    """
    from onnx import helper

    source, in_block = node.input[0], 1
    chained = phase_forms.get(node.input[0])
    strided = attributes(node).get("strides", [1, 1])[0] > 1
    if chain and chained and (strided or any_stride) and graph.sole_consumer(node.input[0]) is node:
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
    positions = spatial_size(shapes.get(node.input[0]))
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
