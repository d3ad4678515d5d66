"""Rewrite pass ``nchw-dense``: the Dense layer's columns permuted so its Reshape yields NCHW directly.

Keras generators reshape the Dense output to NHWC and tf2onnx adds a Transpose to NCHW before the
first convolution; permuting the Dense weights once, at export, removes that Transpose from every run.
"""

from __future__ import annotations

import numpy as np

from gantool.export.onnx_graph import EditableGraph, attributes, dense_to_map, permute_dense_columns


def drop_input_transpose(graph: EditableGraph) -> None:
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
