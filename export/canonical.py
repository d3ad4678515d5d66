"""Canonical ONNX: the same graph always serializes to the same bytes.

tf2onnx names folded constants and inserted nodes from a process-wide counter
(``const_fold_opt__125`` one run, ``__126`` the next), writes the traced
function's name (``__inference_generate_259``, another counter) into the graph's
doc string, and Keras scopes node names by how many models a process has built
(``generator_1/...``). None of that says anything about the graph, and all of it
changed the bytes of two exports of one model. :func:`canonicalize` rewrites
every such name from the graph's structure alone, as reproducible-builds practice
does for file lists and timestamps:

- nodes are ordered by a depth-first walk from the graph's outputs, each node's
  inputs in their order (a node no output depends on is dropped, as is an
  initializer no node reads);
- node ``i`` is named ``{op_type}_{i}``, its outputs ``{op_type}_{i}`` (or
  ``{op_type}_{i}:{k}`` for its k-th of several); graph inputs and outputs keep
  their names (``z``, ``label``, ``image``: the contract names them);
- an initializer is named after the first node that reads it
  (``{op_type}_{i}.in{j}``) and stored in first-use order;
- doc strings go, the graph is named ``gantool``, metadata is sorted by key.

Graphs with sub-graphs (If, Loop, Scan) are left as they are: a generator has none.
:func:`serialize` writes a model with protobuf's deterministic serialization.
"""

from __future__ import annotations

from collections.abc import Iterable

GRAPH_NAME = "gantool"


def canonicalize(proto):
    """Rename, order and strip ``proto`` in place as the module docstring says; returns it."""
    graph = proto.graph
    proto.doc_string = ""
    graph.doc_string = ""
    graph.name = GRAPH_NAME
    set_metadata(proto, {})
    if any(attr.g.node or attr.graphs for node in graph.node for attr in node.attribute):
        return proto
    order = _walk(graph)
    renames = {value.name: value.name for value in (*graph.input, *graph.output)}
    for index, node in enumerate(order):
        node.name = f"{node.op_type}_{index}"
        node.doc_string = ""
        for k, output in enumerate(node.output):
            if output and output not in renames:
                renames[output] = node.name if len(node.output) == 1 else f"{node.name}:{k}"
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    used = []
    for node in order:
        for j, name in enumerate(node.input):
            if name in initializers and name not in renames:
                renames[name] = f"{node.name}.in{j}"
                used.append(initializers[name])
    for node in order:
        _rename(node.input, renames)
        _rename(node.output, renames)
    for tensor in used:
        tensor.name = renames[tensor.name]
        tensor.doc_string = ""
    rank = {name: i for i, name in enumerate(renames.values())}
    infos = sorted((v for v in graph.value_info if v.name in renames), key=lambda v: rank[renames[v.name]])
    for value in infos:
        value.name = renames[value.name]
    _replace(graph.value_info, infos)
    _replace(graph.node, order)
    # Sorted in place: initializers hold the weights, which are not worth a second copy.
    first_use = {tensor.name: i for i, tensor in enumerate(used)}
    graph.initializer.sort(key=lambda tensor: first_use.get(tensor.name, len(first_use)))
    del graph.initializer[len(used):]
    return proto


def serialize(proto) -> bytes:
    """``proto``'s bytes, canonicalized, with protobuf's deterministic serialization."""
    return canonicalize(proto).SerializeToString(deterministic=True)


def save(proto, path) -> None:
    """Write ``proto`` canonicalized to ``path`` (not atomically: callers write into a temporary path)."""
    with open(path, "wb") as file:
        file.write(serialize(proto))


def _walk(graph) -> list:
    """Nodes in depth-first post-order from the graph outputs (each node's inputs visited in order)."""
    producer = {output: node for node in graph.node for output in node.output if output}
    seen: set[int] = set()
    order: list = []
    # An explicit stack: a deep generator would overflow Python's recursion.
    stack = [(producer[out.name], False) for out in reversed(graph.output) if out.name in producer]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for name in reversed(node.input):
            parent = producer.get(name)
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    return [_copy(node) for node in order]


def _rename(names, renames: dict[str, str]) -> None:
    for i, name in enumerate(names):
        if name in renames:
            names[i] = renames[name]


def _replace(field, items: Iterable) -> None:
    items = [_copy(item) for item in items]
    del field[:]
    field.extend(items)


def _copy(item):
    copy = type(item)()
    copy.CopyFrom(item)
    return copy


def set_metadata(proto, entries: dict[str, str | None]) -> None:
    """Set ``entries`` in ``proto``'s ``metadata_props`` (replacing keys already there; a None value removes
    its key), kept sorted by key: the one way gantool writes ONNX metadata."""
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(entries)
    props = {key: value for key, value in props.items() if value is not None}
    del proto.metadata_props[:]
    for key in sorted(props):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, props[key]
