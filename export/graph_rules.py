"""Which float32 ONNX graph ``gantool export`` writes: rules over the model's structure, no stopwatch.

Each candidate graph (:data:`GRAPH_KINDS`) is costed before it is built (weight bytes and
multiply-adds per image, :func:`costs`); :func:`graph_facts` adds what the rules read from the
plain graph (its transposed convolutions and their channel counts). :data:`RULES` are tried in
order and the first that applies names the graph, so the same model always gets the same graph
on any machine. The rules were calibrated once, with the zoo at full size and the DCGAN
(``python benchmarks/graph_rules.py``; the table and its date are in docs/export_graphs.md): each
rule's docstring says which measurement it stands on.

:data:`SESSION_RULES` decide, the same way, onnxruntime settings the written graph asks for
(:func:`session_settings`): the file carries them and the runtime applies them when it opens it.

Timing stays the user's explicit choice on the target: ``--graph fastest-here``
(:func:`gantool.export.graph_choice.fastest_here`) or ``--keep-graphs`` with ``gantool bench``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

from gantool.errors import UnsupportedFormatError

GRAPH_KINDS = ("plain", "layerwise", "layerwise+fourier", "optimized", "optimized+fourier")
# A rewrite may make the file at most this much larger than the plain graph, and its work this much more.
MAX_WEIGHT_GROWTH = 1.25
MAX_MAC_GROWTH = 1.5


class UpLayer(NamedTuple):
    """One ConvTranspose of the plain graph: channels in and out, kernel, stride, input side."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    side: int


@dataclasses.dataclass(frozen=True)
class GraphFacts:
    """What the rules read: each kind's estimated cost (None: the rewrite does not apply), whether it is
    within the size guard, whether the DFT form of a first layer exists, the upsampling layers, and how many
    Convs the rewrites run as a ConvTranspose (:mod:`gantool.export.narrow_conv`)."""

    costs: dict[str, object]
    guard: dict[str, str]
    dft: bool
    up_layers: tuple[UpLayer, ...]
    narrow_convs: int = 0

    def fits(self, kind: str) -> bool:
        """Whether ``kind`` can be built and is within the size guard."""
        return self.costs.get(kind) is not None and not self.guard.get(kind)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A named rule: ``applies(facts)`` gives the reason it fires ("" when it does not), and the kind it picks."""

    name: str
    kind: Callable[[GraphFacts], str]
    applies: Callable[[GraphFacts], str]


def _with_dft(facts: GraphFacts, base: str) -> str:
    return f"{base}+fourier" if facts.dft and facts.fits(f"{base}+fourier") else base


def _no_up_layers(facts: GraphFacts) -> str:
    if facts.up_layers or facts.narrow_convs:
        return ""
    return "no ConvTranspose and no narrow Conv: the rewrites only fold BatchNorm"


def _chain_fits(facts: GraphFacts) -> str:
    if not facts.up_layers or not facts.fits("optimized"):
        return ""
    plain, chained = facts.costs["plain"], facts.costs["optimized"]
    return (f"the chained rewrite is within the guard (weights {chained.weight_bytes / plain.weight_bytes:.2f}x, "
            f"work {chained.macs / max(plain.macs, 1):.2f}x plain)")


def _layerwise_fits(facts: GraphFacts) -> str:
    if not facts.fits("layerwise"):
        return ""
    counts = [f"{len(facts.up_layers)} ConvTranspose"] if facts.up_layers else []
    if facts.narrow_convs:
        counts.append(f"{facts.narrow_convs} narrow Conv")
    if not facts.up_layers:
        chained = "no ConvTranspose to chain"
    else:
        chained = f"the chained rewrite is {'beyond the guard' if facts.costs.get('optimized') else 'not possible'}"
    return (f"{chained}; the layer-by-layer rewrite ({', '.join(counts)}) is within it, and it runs narrow "
            "Convs as ConvTranspose")


def _nothing_fits(facts: GraphFacts) -> str:
    return "no rewrite is within the guard"


# The rules in the order they are tried; the last always applies. Calibrated 2026-12-05 with the zoo at
# full size and the DCGAN (benchmarks/graph_rules.py, one thread, CPU time; the table is in
# docs/export_graphs.md):
# - no-upsampling-conv: with neither a ConvTranspose nor a narrow Conv the rewrites only fold BatchNorm,
#   which measured no faster than plain (mlp28);
# - chain-within-guard: the DCGAN, whose chained graph with its DFT first layer ran 2.8x plain at batch 64;
# - layerwise-within-guard: every other zoo model ran its layer-by-layer graph (the narrow last Conv as a
#   ConvTranspose) at 1.02x-3.1x plain at batch 1 and 1.12x-2.5x at batch 64, the fastest candidate there;
#   before the narrow-Conv rewrite the same graphs ran 0.92x-1.1x plain at batch 1;
# - plain-otherwise: nothing within the guard; it is the last rule and always applies.
RULES: tuple[Rule, ...] = (
    Rule("no-upsampling-conv", lambda facts: "plain", _no_up_layers),
    Rule("chain-within-guard", lambda facts: _with_dft(facts, "optimized"), _chain_fits),
    Rule("layerwise-within-guard", lambda facts: _with_dft(facts, "layerwise"), _layerwise_fits),
    Rule("plain-otherwise", lambda facts: "plain", _nothing_fits),
)


def choose_by_rule(facts: GraphFacts) -> tuple[str, str, str]:
    """The first rule of :data:`RULES` that applies: ``(kind, rule name, reason)``."""
    for rule in RULES[:-1]:
        reason = rule.applies(facts)
        if reason:
            return rule.kind(facts), rule.name, reason
    last = RULES[-1]
    return last.kind(facts), last.name, last.applies(facts)


@dataclasses.dataclass(frozen=True)
class SessionRule:
    """A named rule for onnxruntime's session: ``applies(proto)`` gives the reason it fires ("" when it does
    not), and the graph optimizers it turns off."""

    name: str
    disabled_optimizers: tuple[str, ...]
    applies: Callable[[object], str]


def _one_channel_convs(proto) -> str:
    weights = {t.name: tuple(t.dims) for t in proto.graph.initializer}
    convs = [node for node in proto.graph.node if node.op_type == "Conv"]
    if not convs or any(weights.get(node.input[1], (0,))[0] != 1 for node in convs):
        return ""
    return (f"every Conv of the graph ({len(convs)}) has one output channel, which onnxruntime's NCHWc layout "
            "pads to a block of 8 or 16 channels")


# Calibrated 2026-12-05 with the zoo at full size and the DCGAN (benchmarks/graph_rules.py, the columns
# "Nchwc off"; the table is in docs/export_graphs.md): the plain graphs of the three 28x28 models whose
# only Conv is the last 128->1 one (mnist_sigmoid28, its one-hot twin, conditional28) ran 1.23x-1.48x
# faster at batch 1 and 64 with the NchwcTransformer off; every graph with a wider Conv ran the same or
# slower without it (the DCGAN's 0.62x-0.80x, wgan_gp28's 0.80x-0.86x). Graphs without a Conv keep the
# defaults: the transformer leaves ConvTranspose alone. The rewritten graphs run such a Conv as a
# ConvTranspose (narrow_conv.py, faster still), so the rule fires on plain graphs: `--graph plain`, or a
# model no rewrite fits.
SESSION_RULES: tuple[SessionRule, ...] = (
    SessionRule("one-channel-convs", ("NchwcTransformer",), _one_channel_convs),
)


def session_settings(proto) -> dict:
    """What the first rule of :data:`SESSION_RULES` that applies to ``proto`` asks of onnxruntime
    (``{"disabled_optimizers": [...], "rule": ..., "reason": ...}``), or ``{}``."""
    for rule in SESSION_RULES:
        reason = rule.applies(proto)
        if reason:
            return {"disabled_optimizers": list(rule.disabled_optimizers), "rule": rule.name, "reason": reason}
    return {}


def within_guard(plain, cost) -> str:
    """"" when ``cost`` is within the guard against the ``plain`` graph's, else why not."""
    weights = cost.weight_bytes / max(plain.weight_bytes, 1)
    if weights > MAX_WEIGHT_GROWTH:
        return f"weights {weights:.2f}x plain > {MAX_WEIGHT_GROWTH}x"
    if plain.macs and cost.macs / plain.macs > MAX_MAC_GROWTH:
        return f"work {cost.macs / plain.macs:.2f}x plain > {MAX_MAC_GROWTH}x"
    return ""


def estimate(plain_proto, kind: str):
    """The :class:`~gantool.export.onnx_optimize.GraphCost` of ``kind`` built from ``plain_proto`` (nothing built).

    Raises:
        UnsupportedFormatError: the rewrite does not apply to this graph.
    """
    from gantool.export.onnx_optimize import GraphCost, graph_macs, optimize

    if kind == "plain":
        return GraphCost(sum(_tensor_bytes(t) for t in plain_proto.graph.initializer), graph_macs(plain_proto))
    return optimize(plain_proto, fourier=kind.endswith("+fourier"), chain=kind.startswith("optimized"), estimate=True)


def build(plain_proto, kind: str, quantized: bool = False):
    """The graph of ``kind`` (plain: ``plain_proto`` itself); ``quantized``: the float graph an int8 export
    quantizes (its narrow Convs stay Convs: onnxruntime's int8 Conv is the fast path there)."""
    if kind == "plain":
        return plain_proto
    from gantool.export.onnx_optimize import optimize

    return optimize(plain_proto, fourier=kind.endswith("+fourier"), chain=kind.startswith("optimized"),
                    narrow=not quantized)


def graph_facts(plain_proto) -> GraphFacts:
    """Costs of every kind (estimated, nothing built), the guard's verdicts and the plain graph's upsampling layers."""
    costs: dict[str, object] = {}
    for kind in GRAPH_KINDS:
        try:
            costs[kind] = estimate(plain_proto, kind)
        except UnsupportedFormatError:
            costs[kind] = None
    plain = costs["plain"]
    guard = {kind: within_guard(plain, cost) for kind, cost in costs.items() if cost is not None}
    # A DFT form exists where the "+fourier" estimate differs from its base (its layer keeps extra matrices).
    dft = any(costs.get(f"{base}+fourier") not in (None, costs.get(base)) for base in ("layerwise", "optimized"))
    return GraphFacts(costs, guard, dft, up_layers(plain_proto), narrow_convs(plain_proto))


def up_layers(plain_proto) -> tuple[UpLayer, ...]:
    """The plain graph's ConvTranspose layers, in graph order."""
    from gantool.export.onnx_graph import attributes, tensor_shapes

    shapes = tensor_shapes(plain_proto)
    weights = {t.name: tuple(t.dims) for t in plain_proto.graph.initializer}
    layers = []
    for node in plain_proto.graph.node:
        if node.op_type != "ConvTranspose" or node.input[1] not in weights:
            continue
        dims, attrs = weights[node.input[1]], attributes(node)
        side = (shapes.get(node.input[0]) or (0, 0, 0))[-1] or 0
        group = int(attrs.get("group", 1))
        layers.append(UpLayer(dims[0], dims[1] * group, dims[-1], int(max(attrs.get("strides", [1]))), side))
    return tuple(layers)


def narrow_convs(plain_proto) -> int:
    """How many of the plain graph's Convs the rewrites would run as a ConvTranspose."""
    from gantool.export.narrow_conv import narrow_conv_plan

    kernels = {t.name: tuple(t.dims) for t in plain_proto.graph.initializer}
    return sum(narrow_conv_plan(node, kernels.get(node.input[1])) is not None
               for node in plain_proto.graph.node if node.op_type == "Conv")


def _tensor_bytes(tensor) -> int:
    from onnx import helper

    itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    return int(math.prod(tensor.dims)) * itemsize


def int8_base(facts: GraphFacts, graph: str) -> str:
    """The float graph an int8 export quantizes: ``graph`` without its DFT form (onnxruntime's int8 Conv is
    the fast path there), or with ``auto`` the most rewritten kind within the guard."""
    if graph not in ("auto", "fastest-here"):
        return graph.removesuffix("+fourier")
    return next((kind for kind in ("optimized", "layerwise") if facts.fits(kind)), "plain")
