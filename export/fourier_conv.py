"""The generator's first convolution as a product in the 2-D discrete Fourier domain.

The DCGAN generator's first layer after the Dense projection is a stride-1 5x5
convolution (256 -> 128 channels) on a 7x7 map: most of the generator's work.
onnxruntime's Conv computes every tap of the zero padding (40 M multiply-adds
per image where 27.5 M are useful) at ~83% of its own GEMM peak
(``benchmarks/conv_padding.py``), so no rewrite into smaller Convs can win by
much. The convolution theorem removes the taps instead. On an ``L x L`` grid
with ``L = map + (kernel - 1) / 2`` (9 here) a circular correlation equals the
zero-padded one on every output pixel: the taps that wrap around the grid's
edge land on the ``(kernel - 1) / 2`` rows of zeros before the map. In the DFT
domain it is one complex product per frequency. A real input has
conjugate-symmetric spectra, so ``(L*L + 1) / 2`` frequencies (41 for 9x9)
carry everything, and the layer becomes three MatMuls:

1. forward DFT of each input channel: ``[2*41, 49] @ [49, batch*256]``
   (the zero padding is folded into the matrix);
2. per frequency, the input spectrum times the kernel's conjugate spectrum, as
   real GEMMs ``[2*batch, 256] @ [256, 128]`` for its real and imaginary parts
   (164 GEMMs of 4.2 M multiply-adds: ~340 M per 64 images against 2.6 G for
   the padded Conv);
3. inverse DFT back to the 7x7 map, which also sums the four real products of
   each complex one: ``[49, 4*41] @ [4*41, batch*128]``.

Unlike Winograd's transforms, whose float32 error on the generator's output
exceeds the float32 export bound (``benchmarks/conv_transforms.py``), the DFT is
unitary up to scale, so float32 rounding stays at the direct convolution's level.
The kernel's spectrum (several times the kernel's size) is not stored: the file
keeps the kernel, and a MatMul of two constants computes the spectrum, which
onnxruntime folds once when it loads the model.

What it costs: the spectrum and the larger activations raise the peak memory of
sampling, and batch 1 reads the whole spectrum for one image, so a single image
is a little slower than with the direct Conv (docs/ has the figures). It is the
default of the optimized float graph; ``fourier=False`` (``gantool export
--no-fourier``) keeps the direct Conv.

The rewrite applies where the layout can change for free: a Dense layer
(MatMul/Gemm with constant weights) -> elementwise activations -> Reshape to
NCHW -> that Conv. The Dense columns are permuted so the activations come out
as ``[batch, h, w, c]``; one Transpose makes them ``[h, w, batch, c]``. The
result is transposed back to NCHW under the Conv's output name.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gantool.export.onnx_graph import EditableGraph, attributes, dense_to_map, permute_dense_columns

# Below this many output x input channels the rewrite is skipped: a judgment, not a measurement
# (the DFT's fixed costs, two transposes and three MatMuls, weigh more on small layers). The
# generator's layer has 32,768.
MIN_CHANNEL_PRODUCT = 4096
# Part of the name of every node and constant the rewrite adds.
NODE_MARK = "/dft/"


def frequencies(size: int) -> list[tuple[int, int]]:
    """One ``(fh, fw)`` of each conjugate pair of an ``size x size`` real DFT (self-conjugate ones once)."""
    kept, seen = [], set()
    for fw in range(size // 2 + 1):
        for fh in range(size):
            if (fh, fw) in seen:
                continue
            kept.append((fh, fw))
            seen |= {(fh, fw), ((-fh) % size, (-fw) % size)}
    return kept


@dataclasses.dataclass(frozen=True)
class DftConv:
    """The three float64 matrices of a "same" convolution computed through a ``size x size`` DFT.

    Args:
        forward: ``[(freq, re/im), map*map]``: spectrum of the zero-padded input from the map.
        kernel: ``[(re/im, freq), k*k]``: conjugate spectrum of a ``k x k`` kernel from its taps.
        inverse: ``[map*map, (kernel re/im, freq, input re/im)]``: the output map from the four
            real products ``input part x kernel part`` of every frequency.
    """

    forward: np.ndarray
    kernel: np.ndarray
    inverse: np.ndarray

    @property
    def count(self) -> int:
        """Frequencies kept."""
        return self.forward.shape[0] // 2


def dft_conv(map_size: int, kernel_size: int) -> DftConv:
    """Matrices computing ``y = conv2d(x, w, pads=(k-1)/2)`` (cross-correlation, as ONNX Conv) exactly.

    With ``X = forward @ x``, ``G = kernel @ w`` (per channel pair) and
    ``P[g, f, r] = X[f, r] * G[g, f]``, the output is ``inverse @ P``. Exact in
    float64 to rounding (tests check 1e-12).
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"a 'same' convolution needs an odd kernel, got {kernel_size}")
    pad = (kernel_size - 1) // 2
    size = map_size + pad
    kept = frequencies(size)
    fh, fw = (np.array(axis, dtype=np.float64)[:, None] for axis in zip(*kept, strict=False))
    rows, cols = np.divmod(np.arange(map_size * map_size), map_size)
    taps_h, taps_w = np.divmod(np.arange(kernel_size * kernel_size), kernel_size)
    # Input pixel (h, w) sits at (h + pad, w + pad) of the padded grid: X[f] = sum x e^{-i angle}.
    angle = 2 * np.pi * (fh * (rows + pad) + fw * (cols + pad)) / size
    forward = np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(2 * len(kept), -1)
    # Correlation: Y[f] = X[f] * conj(W[f]); conj(W[f]) = sum w e^{+i angle}.
    angle = 2 * np.pi * (fh * taps_h + fw * taps_w) / size
    kernel = np.stack([np.cos(angle), np.sin(angle)]).reshape(2 * len(kept), -1)
    # y[n] = (1/size^2) sum over all frequencies of Re(Y[f] e^{+i f.n}); a kept frequency stands for
    # its conjugate too (weight 2) unless it is its own. Re(Y e^{i t}) = Yr cos t - Yi sin t with
    # Yr = Xr Gr - Xi Gi and Yi = Xi Gr + Xr Gi.
    self_conjugate = np.array([((-a) % size, (-b) % size) == (a, b) for a, b in kept])
    weight = np.where(self_conjugate, 1.0, 2.0)[:, None] / size**2
    angle = 2 * np.pi * (fh * rows + fw * cols) / size
    cos, sin = (weight * np.cos(angle)).T, (weight * np.sin(angle)).T  # [map*map, freq]
    inverse = np.zeros((map_size * map_size, 2, len(kept), 2))  # (pixel, kernel part, freq, input part)
    inverse[:, 0, :, 0], inverse[:, 0, :, 1] = cos, -sin  # Gr * (Xr, Xi)
    inverse[:, 1, :, 0], inverse[:, 1, :, 1] = -sin, -cos  # Gi * (Xr, Xi)
    return DftConv(forward, kernel, inverse.reshape(map_size * map_size, -1))


def rewrite_first_conv(graph: EditableGraph) -> bool:
    """Rewrite the Dense -> [activations] -> Reshape(NCHW) -> Conv pattern (see module docstring).

    Returns whether the pattern was found and rewritten; the graph is untouched otherwise.
    """
    from onnx import helper

    for dense in [n for n in graph.nodes if n.op_type in ("MatMul", "Gemm")]:
        match = _match(graph, dense)
        if match is None:
            continue
        reshape, conv, (channels, size), weight, bias = match
        out_channels, kernel_size = weight.shape[0], weight.shape[2]
        permute_dense_columns(graph, dense, (channels, size, size), (1, 2, 0), "nhwc")
        reshape.input[1] = graph.add_const(f"{reshape.input[1]}/nhwc", np.array([-1, size, size, channels], np.int64))
        matrices = dft_conv(size, kernel_size)
        count, name = matrices.count, conv.name or "conv"
        f32 = lambda array: np.ascontiguousarray(array, dtype=np.float32)  # noqa: E731
        consts = {
            "forward": f32(matrices.forward),
            "kernel_dft": f32(matrices.kernel),
            # [k*k, in, out]: the kernel's taps as rows, so one MatMul gives its spectrum.
            "taps": f32(weight.transpose(2, 3, 1, 0).reshape(kernel_size * kernel_size, -1)),
            "inverse": f32(matrices.inverse),
            "bias": f32(bias if bias is not None else np.zeros(out_channels)),
            "pixels_first": np.array([size * size, -1], np.int64),
            "by_freq": np.array([1, count, -1, channels], np.int64),
            "spectrum_shape": np.array([2, count, channels, out_channels], np.int64),
            "products": np.array([4 * count, -1], np.int64),
            "map_shape": np.array([size, size, -1, out_channels], np.int64),
        }
        c = {key: graph.add_const(f"{name}{NODE_MARK}{key}", value) for key, value in consts.items()}
        t = {key: graph.name(f"{name}{NODE_MARK}{key}") for key in
             ("hwbc", "x", "x_spec", "x_freq", "w_flat", "w_spec", "prod", "prod_flat", "y", "y_map", "y_bias")}
        nodes = [
            helper.make_node("Transpose", [reshape.output[0]], [t["hwbc"]], perm=[1, 2, 0, 3]),
            helper.make_node("Reshape", [t["hwbc"], c["pixels_first"]], [t["x"]]),
            helper.make_node("MatMul", [c["forward"], t["x"]], [t["x_spec"]]),  # [(freq, re/im), batch*in]
            helper.make_node("Reshape", [t["x_spec"], c["by_freq"]], [t["x_freq"]]),  # [1, freq, 2*batch, in]
            # Two constants: onnxruntime folds the kernel's spectrum once, at load.
            helper.make_node("MatMul", [c["kernel_dft"], c["taps"]], [t["w_flat"]]),
            helper.make_node("Reshape", [t["w_flat"], c["spectrum_shape"]], [t["w_spec"]]),  # [2, freq, in, out]
            helper.make_node("MatMul", [t["x_freq"], t["w_spec"]], [t["prod"]]),  # [2, freq, 2*batch, out]
            helper.make_node("Reshape", [t["prod"], c["products"]], [t["prod_flat"]]),
            helper.make_node("MatMul", [c["inverse"], t["prod_flat"]], [t["y"]]),  # [h*w, batch*out]
            helper.make_node("Reshape", [t["y"], c["map_shape"]], [t["y_map"]]),
            helper.make_node("Add", [t["y_map"], c["bias"]], [t["y_bias"]]),
            helper.make_node("Transpose", [t["y_bias"]], [conv.output[0]], perm=[2, 3, 0, 1]),
        ]
        for node in nodes:
            node.name = graph.name(f"{name}{NODE_MARK}{node.op_type}")
        graph.replace(conv, nodes)
        return True
    return False


def _match(graph: EditableGraph, dense):
    """``(reshape, conv, (channels, size), conv weight, conv bias)`` if ``dense`` starts the pattern, else None."""
    match = dense_to_map(graph, dense)
    if match is None:
        return None
    node, (channels, height, size) = match
    if height != size:
        return None
    conv = graph.sole_consumer(node.output[0])
    if conv is None or conv.op_type != "Conv" or conv.input[0] != node.output[0]:
        return None
    kernel = graph.const(conv.input[1])
    bias = graph.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
    if kernel is None or kernel.ndim != 4 or kernel.shape[1] != channels or (len(conv.input) > 2 and conv.input[2] and bias is None):
        return None
    k = kernel.shape[2]
    attrs = attributes(conv)
    same = (kernel.shape[3] == k and k % 2 == 1 and k > 1 and list(attrs.get("pads", [0] * 4)) == [(k - 1) // 2] * 4
            and attrs.get("group", 1) == 1 and set(attrs.get("strides", [1, 1])) == {1}
            and set(attrs.get("dilations", [1, 1])) == {1} and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))
    if not same or kernel.shape[0] * channels < MIN_CHANNEL_PRODUCT:
        return None
    return node, conv, (channels, size), kernel, bias



def has_dft_layer(proto) -> bool:
    """Whether :func:`rewrite_first_conv` rewrote a layer of ``proto`` (its nodes carry :data:`NODE_MARK`)."""
    return any(NODE_MARK in node.name for node in proto.graph.node)
