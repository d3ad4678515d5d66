"""An image's narrow last Conv computed on the previous layer's phases, so no DepthToSpace moves the wide map.

The sub-pixel rewrite (:mod:`gantool.export.subpixel`) turns a strided ConvTranspose into Convs
that write ``b*b`` phases of its output, and a ``DepthToSpace(b)`` that interleaves them into the
map. When a narrow stride-1 Conv reads that map (keras-io's MNIST generators: 128 -> 1, 7x7 at
28x28; a CelebA-style face generator: 512 -> 3, 5x5 at 64x64), the DepthToSpace moves the widest
tensor of the whole generator (at batch 64: 537 MB for the face generator) only for a Conv that
reduces it to one or three channels. The same Conv can read the phases instead: as a ConvTranspose
of stride 1 (:mod:`gantool.export.narrow_conv`'s identity), it chains onto the phase form like any
strided layer, and its output is ``b*b*C_out`` phases of the image, interleaved by a DepthToSpace
over one or three channels. The multiply-adds grow (on 2x2 phases a 5x5 kernel becomes 3x3 over
4 times the channels: 1.44x; 7x7 becomes 5x5: 2.04x; 3x3 stays 3x3: 4x); up to 2x it still ran
faster at both batch sizes, at 4x not at batch 1 (docs/export_graphs.md, "Narrow tails on the phases"),
so :data:`MAX_MAC_GROWTH` sits between.

The new Conv has ``b*b*C_out`` outputs (4 or 12) from ``b*b*C_in`` inputs, so the narrow pass that
runs after it makes it a ConvTranspose too. Exact: each weight is a copy of one of the Conv's or zero.
"""

from __future__ import annotations

from gantool.export.narrow_conv import is_narrow, narrow_conv_plan, transposed_kernel
from gantool.export.onnx_graph import UNARY_ELEMENTWISE, EditableGraph
from gantool.export.subpixel import plan_axis, rewrite_conv_transpose

# The most the tail's multiply-adds may grow for the rewrite to apply (research/narrow_tail_ab.py,
# docs/export_graphs.md): 5x5 (1.44x) and 7x7 (2.04x) kernels on 2x2 phases ran 1.07x-1.16x faster at
# batch 1 and 1.15x-1.32x at batch 64; 3x3 (4x) ran 0.94x-1.07x at batch 1, so it is left out. The
# rewrite also needs the phase Conv it makes to be narrow itself (gantool.export.narrow_conv.is_narrow:
# 4 or 12 outputs on 2x2 phases of a grey or colour image), as in every case measured.
MAX_MAC_GROWTH = 2.1


def tail_mac_growth(kernel: tuple[int, int], pads: list[int], block: int) -> float:
    """How many times its own multiply-adds the Conv takes on ``block x block`` phases."""
    grown = 1.0
    for axis in range(2):
        plan = plan_axis(kernel[axis], 1, kernel[axis] - 1 - pads[axis], kernel[axis] - 1 - pads[axis + 2],
                         in_block=block)
        grown *= block * plan.kernel / kernel[axis]
    return grown


def rewrite_narrow_tails(graph: EditableGraph, phase_forms: dict, shapes: dict, estimate: bool) -> int:
    """Rewrite every narrow Conv that reads a phase form (and is its only reader) onto the phases.

    Returns:
        The multiply-adds per image added (negative: saved).
    """
    from onnx import helper

    added = 0
    for node in [n for n in graph.nodes if n.op_type == "Conv"]:
        form = phase_forms.get(node.input[0])
        weight = graph.consts.get(node.input[1])
        pads = narrow_conv_plan(node, None if weight is None else weight.shape)
        if form is None or pads is None or graph.sole_consumer(node.input[0]) is not node:
            continue
        phases = form[1] * form[1]
        if (tail_mac_growth(weight.shape[2:], list(pads), form[1]) > MAX_MAC_GROWTH
                or not is_narrow(phases * weight.shape[0], phases * weight.shape[1])):
            continue
        hint = node.name or node.output[0]
        kernel = graph.add_const(f"{hint}/transposed_kernel", transposed_kernel(weight, estimate))
        transposed = helper.make_node("ConvTranspose", [node.input[0], kernel, *node.input[2:]],
                                      list(node.output), name=graph.name(f"{hint}/on_phases"),
                                      kernel_shape=list(weight.shape[2:]), pads=list(pads), strides=[1, 1])
        graph.replace(node, [transposed])
        source = form[0]
        added += rewrite_conv_transpose(graph, transposed, phase_forms, shapes, estimate, any_stride=True)
        _read_concat_parts(graph, source)
    return added


def _channels(graph: EditableGraph, tensor: str) -> int | None:
    """Output channels of the Conv that makes ``tensor`` (through unary activations), or None."""
    node = graph.producer(tensor)
    while node is not None and node.op_type in UNARY_ELEMENTWISE:
        node = graph.producer(node.input[0])
    weight = None if node is None or node.op_type != "Conv" else graph.consts.get(node.input[1])
    return None if weight is None else weight.shape[0]


def _read_concat_parts(graph: EditableGraph, phases: str) -> None:
    """Where the phases are a Concat of per-phase Convs read by nothing but the tail's Conv, split that Conv
    by input channels into one Conv per part and a Sum, so the Concat (a copy of the widest map) goes;
    only where each part is narrow too (the narrow pass then runs it as a ConvTranspose)."""
    from onnx import helper

    concat, conv = graph.producer(phases), graph.sole_consumer(phases)
    if concat is None or concat.op_type != "Concat" or conv is None or conv.op_type != "Conv":
        return
    sizes = [_channels(graph, part) for part in concat.input]
    weight = graph.consts.get(conv.input[1])
    if (None in sizes or weight is None or sum(sizes) != weight.shape[1]
            or not all(is_narrow(weight.shape[0], size) for size in sizes)):
        return
    hint, parts, start = conv.name or conv.output[0], [], 0
    for index, (part, size) in enumerate(zip(concat.input, sizes, strict=True)):
        inputs = [part, graph.add_const(f"{hint}/part{index}_weight", weight[:, start:start + size])]
        if index == 0 and len(conv.input) > 2 and conv.input[2]:
            inputs.append(conv.input[2])
        split = helper.make_node("Conv", inputs, [graph.name(f"{hint}/part{index}")], name=graph.name(f"{hint}/part{index}"))
        split.attribute.extend(conv.attribute)
        parts.append(split)
        start += size
    total = helper.make_node("Sum", [n.output[0] for n in parts], list(conv.output), name=graph.name(f"{hint}/sum"))
    graph.remove(concat)
    graph.replace(conv, [*parts, total])
