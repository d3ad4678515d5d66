"""A stride-1 Conv with few output channels, rewritten as the ConvTranspose that computes the same thing.

onnxruntime's CPU Conv takes one of two paths: NCHWc (a direct convolution over blocks of 8 or 16
output channels, AVX2 / AVX-512) or im2col + GEMM, which first copies every input channel's every
kernel tap into a buffer of ``C_in * k * k * H * W`` floats. Its ConvTranspose is GEMM + col2im: the
buffer is ``C_out * k * k * H * W`` and is summed into the output. For a Conv that ends a generator
(128 channels in, one or three out: a grey or colour image) NCHWc pads the outputs to a whole block
(16x the work for one channel) and im2col copies 128 channels' taps to make a single output map,
while the ConvTranspose form's buffer is one channel's taps: the same multiply-adds, 3x-25x faster
(docs/export_graphs.md, "Narrow convolutions").

A stride-1 Conv with kernel ``W`` (C_out, C_in, kh, kw) and pads (top, left, bottom, right) equals a
ConvTranspose with kernel ``W`` flipped in space and transposed to (C_in, C_out, kh, kw), stride 1,
and pads (kh-1-top, kw-1-left, kh-1-bottom, kw-1-right): both sum ``x[c, y+i-top, x+j-left] W[o, c, i, j]``.
"""

from __future__ import annotations

import numpy as np

from gantool.export.onnx_graph import EditableGraph, attributes

# Which Convs are narrow (python benchmarks/narrow_conv.py; the grid is in docs/export_graphs.md): up to
# ALWAYS_NARROW output channels the ConvTranspose form measured 1.6x-25x faster whatever the input channels
# (3 -> 1 to 512 -> 3); from there to NARROW_MAX_CHANNELS (one AVX-512 NCHWc block) only with at least
# MIN_FAN_IN times as many input channels (16 outputs: 0.79x-0.82x from 16 inputs, 0.98x-1.11x from 32,
# 1.08x-1.47x from 48 to 256); with 32 outputs it measured 0.87x-0.91x.
ALWAYS_NARROW = 8
NARROW_MAX_CHANNELS = 16
MIN_FAN_IN = 3


def is_narrow(outputs: int, inputs: int) -> bool:
    """Whether a Conv with these channel counts runs faster as a ConvTranspose (the grid's rule)."""
    return outputs <= ALWAYS_NARROW or (outputs <= NARROW_MAX_CHANNELS and inputs >= MIN_FAN_IN * outputs)


def narrow_conv_plan(node, kernel_shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The ConvTranspose pads for ``node`` (its constant kernel's shape ``kernel_shape``; None: not a constant)
    where the rewrite applies to it, else None: a 2-D Conv with at most :data:`ALWAYS_NARROW` outputs, or at
    most :data:`NARROW_MAX_CHANNELS` and :data:`MIN_FAN_IN` times as many inputs; stride 1, no dilation, one
    group, explicit pads each smaller than the kernel."""
    if node.op_type != "Conv" or kernel_shape is None or len(kernel_shape) != 4:
        return None
    if not is_narrow(*kernel_shape[:2]):
        return None
    attrs = attributes(node)
    kernel = kernel_shape[2:]
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if (any(s != 1 for s in attrs.get("strides", [1, 1])) or any(d != 1 for d in attrs.get("dilations", [1, 1]))
            or int(attrs.get("group", 1)) != 1 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
            or len(pads) != 4):
        return None
    flipped = tuple(kernel[i % 2] - 1 - pad for i, pad in enumerate(pads))
    return flipped if min(flipped) >= 0 else None


def transposed_kernel(weight: np.ndarray, estimate: bool = False) -> np.ndarray:
    """The ConvTranspose kernel computing a stride-1 Conv of ``weight`` (out, in, kh, kw): flipped in space,
    (in, out, kh, kw); with ``estimate`` a zero-stride view of that shape (a size without memory)."""
    if estimate:
        return np.broadcast_to(np.float32(0), (weight.shape[1], weight.shape[0], *weight.shape[2:]))
    return np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def rewrite_narrow_convs(graph: EditableGraph, estimate: bool = False) -> int:
    """Replace every Conv :func:`narrow_conv_plan` accepts by its ConvTranspose form; returns how many.

    With ``estimate`` the new kernels are zero-stride views (sizes without memory)."""
    from onnx import helper

    count = 0
    for node in [n for n in graph.nodes if n.op_type == "Conv"]:
        weight = graph.consts.get(node.input[1])
        pads = narrow_conv_plan(node, None if weight is None else weight.shape)
        if pads is None:
            continue
        hint = node.name or node.output[0]
        inputs = [node.input[0], graph.add_const(f"{hint}/transposed_kernel", transposed_kernel(weight, estimate)),
                  *node.input[2:]]
        transposed = helper.make_node("ConvTranspose", inputs, list(node.output), name=graph.name(f"{hint}/as_transpose"),
                                      kernel_shape=list(weight.shape[2:]), pads=list(pads), strides=[1, 1])
        graph.replace(node, [transposed])
        count += 1
    return count
