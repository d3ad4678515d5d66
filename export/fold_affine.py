"""Rewrite pass ``fold-batchnorm``: a per-channel Mul or Add by a constant folded into the layer before it.

tf2onnx writes an inference-mode BatchNorm as a per-channel Mul and Add after the MatMul, Conv or
ConvTranspose it follows; folding them into that layer's weights and bias (a MatMul becomes a Gemm)
leaves one operator where there were three, computing the same values to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from gantool.export.onnx_graph import EditableGraph, attributes, is_plain_gemm


def fold_affine(graph: EditableGraph) -> None:
    """Fold every foldable per-channel Mul/Add, until none is left."""
    while fold_affine_once(graph):
        pass


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


def fold_affine_once(graph: EditableGraph) -> bool:
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
