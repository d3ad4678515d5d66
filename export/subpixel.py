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
weight or zero; the graph rewrite itself lives in :mod:`gantool.export.onnx_optimize`.
"""

from __future__ import annotations

import dataclasses

import numpy as np


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
