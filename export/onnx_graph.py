"""A small editable view of an ONNX graph, for the rewrites in :mod:`gantool.export.onnx_optimize`.

Nodes stay ``onnx.NodeProto`` objects in a Python list kept in topological
order; constant tensors are numpy arrays until :meth:`EditableGraph.write_back`.
"""

from __future__ import annotations

import numpy as np


def rename_io(proto, renames: dict[str, str]) -> None:
    """Rename graph inputs and outputs (``renames``: old name -> new) everywhere they are read or
    written, and name each one's first axis ``batch``.

    Raises:
        KeyError: an input or output that ``renames`` does not name.
    """
    graph = proto.graph
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in (*graph.input, *graph.output):
        value.name = renames[value.name]
        value.type.tensor_type.shape.dim[0].dim_param = "batch"


def tensor_ranks(model) -> dict[str, int]:
    """Tensor name -> rank, where ONNX shape inference knows it."""
    return {name: len(dims) for name, dims in tensor_shapes(model).items()}


def tensor_shapes(model) -> dict[str, tuple]:
    """Tensor name -> dims (an int, or None for a symbolic axis such as the batch), where shape inference knows it."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model).graph
    values = (*inferred.input, *inferred.value_info, *inferred.output)
    return {v.name: tuple(d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim)
            for v in values if v.type.tensor_type.HasField("shape")}


class EditableGraph:
    """A graph's node list and constant tensors, editable as Python objects and numpy arrays."""

    def __init__(self, graph, ranks: dict[str, int]) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.ranks = ranks
        self.nodes = list(graph.node)
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}
        self._names = {name for n in self.nodes for name in (*n.input, *n.output)} | set(self.consts)

    def const(self, name: str):
        """The float32 constant called ``name``, or None when it is computed or another type."""
        value = self.consts.get(name)
        return value if value is not None and value.dtype == np.float32 else None

    def name(self, hint: str) -> str:
        """A tensor name not used anywhere in the graph yet."""
        candidate, index = hint, 0
        while candidate in self._names:
            index += 1
            candidate = f"{hint}_{index}"
        self._names.add(candidate)
        return candidate

    def add_const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.consts[name] = value
        return name

    def sole_consumer(self, tensor: str):
        """The one node reading ``tensor``, or None if it has several readers or is a graph output."""
        if tensor in self.outputs:
            return None
        readers = [n for n in self.nodes if tensor in n.input]
        return readers[0] if len(readers) == 1 else None

    def producer(self, tensor: str):
        """The node writing ``tensor``, or None for a graph input or constant."""
        return next((n for n in self.nodes if tensor in n.output), None)

    def remove(self, node) -> None:
        self.nodes = [n for n in self.nodes if n is not node]

    def replace(self, node, new_nodes) -> None:
        """Put ``new_nodes`` where ``node`` was, keeping the list topologically sorted."""
        index = next(i for i, n in enumerate(self.nodes) if n is node)
        self.nodes[index:index + 1] = list(new_nodes)

    def write_back(self) -> None:
        """Store nodes and the constants still read into the proto; drop stale shape annotations."""
        from onnx import numpy_helper

        read = {name for n in self.nodes for name in n.input} | self.outputs
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)
        del self.graph.initializer[:]
        self.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in self.consts.items() if k in read)
        # Intermediate shapes changed (NHWC -> NCHW, extra phase channels); stale
        # value_info would contradict the new graph, and onnxruntime infers shapes itself.
        del self.graph.value_info[:]


# Elementwise ops with no tensor operand other than their input: they commute
# with any permutation of elements (DepthToSpace, Slice, Reshape of a column order).
UNARY_ELEMENTWISE = frozenset({"LeakyRelu", "Relu", "Tanh", "Sigmoid", "Elu"})


def is_plain_gemm(node) -> bool:
    """A Gemm computing ``A @ B + C`` (no transposes, alpha = beta = 1)."""
    attrs = attributes(node)
    flags = (attrs.get("alpha", 1.0), attrs.get("beta", 1.0), attrs.get("transA", 0), attrs.get("transB", 0))
    return flags == (1.0, 1.0, 0, 0)


def dense_to_map(graph: EditableGraph, dense):
    """``(reshape, (d1, d2, d3))`` if ``dense`` is a Dense layer that becomes a 4-D map, else None.

    That is: a MatMul or plain Gemm with a constant 2-D weight (and a bias of its
    width, if any), then only unary elementwise activations, then a Reshape to
    ``[batch, d1, d2, d3]`` whose batch entry is -1 (or 0 without allowzero) and
    whose other entries account for every column. The Dense layer's columns can
    then be permuted freely: the two rewrites that do so read the map in
    another order.
    """
    weight = graph.const(dense.input[1]) if len(dense.input) > 1 else None
    if weight is None or weight.ndim != 2 or (dense.op_type == "Gemm" and not is_plain_gemm(dense)):
        return None
    if len(dense.input) > 2 and dense.input[2] and getattr(graph.const(dense.input[2]), "shape", None) != (weight.shape[1],):
        return None
    tensor, node = dense.output[0], graph.sole_consumer(dense.output[0])
    while node is not None and node.op_type in UNARY_ELEMENTWISE and len(node.input) == 1:
        tensor, node = node.output[0], graph.sole_consumer(node.output[0])
    if node is None or node.op_type != "Reshape" or node.input[0] != tensor:
        return None
    shape = graph.consts.get(node.input[1])
    if shape is None or shape.shape != (4,) or int(np.prod(shape[1:])) != weight.shape[1]:
        return None
    if not (shape[0] == -1 or (shape[0] == 0 and not attributes(node).get("allowzero", 0))):
        return None
    return node, tuple(int(d) for d in shape[1:])


def permute_dense_columns(graph: EditableGraph, dense, map_shape: tuple[int, int, int], axes: tuple[int, int, int],
                          suffix: str) -> None:
    """Reorder the columns (and bias) of the Dense layer ``dense``, read as a ``map_shape`` map, by ``axes``.

    Column ``i`` of the new weight is column ``order[i]`` of the old one, where
    ``order = arange(prod(map_shape)).reshape(map_shape).transpose(axes).ravel()``;
    the new constants are named after the old ones plus ``/suffix``.
    """
    order = np.arange(int(np.prod(map_shape))).reshape(map_shape).transpose(axes).reshape(-1)
    weight = np.ascontiguousarray(graph.consts[dense.input[1]][:, order])
    dense.input[1] = graph.add_const(f"{dense.input[1]}/{suffix}", weight)
    if len(dense.input) > 2 and dense.input[2]:
        dense.input[2] = graph.add_const(f"{dense.input[2]}/{suffix}", graph.consts[dense.input[2]][order])


def attributes(node) -> dict:
    """A node's attributes as a plain ``{name: python value}`` dict."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def spatial_size(dims) -> int:
    """Height x width of an NCHW tensor's shape (0 when unknown)."""
    if not dims or len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[2:]):
        return 0
    return dims[2] * dims[3]
