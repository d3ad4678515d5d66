"""Which float32 ONNX graph ``gantool export`` writes: rules over the model's structure, no stopwatch.

Each candidate graph (:data:`GRAPH_KINDS`) is costed before it is built (weight bytes and
multiply-adds per image, :func:`costs`); :func:`graph_facts` adds what the rules read from the
plain graph (its transposed convolutions and their channel counts). :data:`RULES` are tried in
order and the first that applies names the graph, so the same model always gets the same graph
on any machine. The rules were calibrated once, with the zoo at full size and the DCGAN
(``python benchmarks/graph_rules.py``; the table and its date are in docs/export_graphs.md): each
rule's docstring says which measurement it stands on.

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

    @property
    def macs(self) -> int:
        """Multiply-adds per image: every input pixel meets the whole kernel."""
        return self.in_channels * self.out_channels * self.kernel ** 2 * self.side ** 2


@dataclasses.dataclass(frozen=True)
class GraphFacts:
    """What the rules read: each kind's estimated cost (None: the rewrite does not apply), whether it is
    within the size guard, whether the DFT form of a first layer exists, and the upsampling layers."""

    costs: dict[str, object]
    guard: dict[str, str]
    dft: bool
    up_layers: tuple[UpLayer, ...]

    def fits(self, kind: str) -> bool:
        """Whether ``kind`` can be built and is within the size guard."""
        return self.costs.get(kind) is not None and not self.guard.get(kind)

    @property
    def heaviest_up_layer(self) -> int:
        """The multiply-adds per image of the most expensive ConvTranspose (0: none)."""
        return max((layer.macs for layer in self.up_layers), default=0)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A named rule: ``applies(facts)`` gives the reason it fires ("" when it does not), and the kind it picks."""

    name: str
    kind: Callable[[GraphFacts], str]
    applies: Callable[[GraphFacts], str]


def _with_dft(facts: GraphFacts, base: str) -> str:
    return f"{base}+fourier" if facts.dft and facts.fits(f"{base}+fourier") else base


def _no_up_layers(facts: GraphFacts) -> str:
    return "" if facts.up_layers else "no ConvTranspose: the rewrites only fold BatchNorm"


def _chain_fits(facts: GraphFacts) -> str:
    if not facts.fits("optimized"):
        return ""
    plain, chained = facts.costs["plain"], facts.costs["optimized"]
    return (f"the chained rewrite is within the guard (weights {chained.weight_bytes / plain.weight_bytes:.2f}x, "
            f"work {chained.macs / max(plain.macs, 1):.2f}x plain)")


def _heavy_up_layer(facts: GraphFacts) -> str:
    if not facts.fits("layerwise") or facts.heaviest_up_layer < HEAVY_UP_LAYER_MACS:
        return ""
    return (f"a ConvTranspose of {facts.heaviest_up_layer / 1e6:.0f} M multiply-adds per image "
            f"(>= {HEAVY_UP_LAYER_MACS / 1e6:.0f} M), rewritten layer by layer within the guard")


def _light_up_layers(facts: GraphFacts) -> str:
    return (f"the chained rewrite is beyond the guard and the heaviest ConvTranspose does "
            f"{facts.heaviest_up_layer / 1e6:.0f} M multiply-adds per image (< {HEAVY_UP_LAYER_MACS / 1e6:.0f} M): "
            "a layer-by-layer rewrite's extra operators cost more at batch 1 than they save")


# The rules in the order they are tried; the last always applies. Calibrated 2026-12-05 with the zoo at
# full size and the DCGAN (benchmarks/graph_rules.py; the table is in docs/export_graphs.md):
# - no-upsampling-conv: without a ConvTranspose the rewrites only fold BatchNorm, which measured
#   0.74x-0.85x plain at batch 1 (wgan_gp28, mlp28) and no faster at batch 64;
# - chain-within-guard: the DCGAN, whose chained graph with its DFT first layer ran 2.7x plain at batch 64;
# - heavy-up-layer: celeba64 (a 2.1 G multiply-add ConvTranspose at 32x32) ran 1.13x plain at batch 1
#   and 1.12x at batch 64 layer by layer; every model whose heaviest ConvTranspose is lighter (134 M and
#   below) ran 0.59x-0.75x plain at batch 1 that way, and at most 1.05x at batch 64;
# - light-up-layers: those models keep the plain graph; it is the last rule and always applies.
HEAVY_UP_LAYER_MACS = 512_000_000

RULES: tuple[Rule, ...] = (
    Rule("no-upsampling-conv", lambda facts: "plain", _no_up_layers),
    Rule("chain-within-guard", lambda facts: _with_dft(facts, "optimized"), _chain_fits),
    Rule("heavy-up-layer", lambda facts: "layerwise", _heavy_up_layer),
    Rule("light-up-layers", lambda facts: "plain", _light_up_layers),
)


def choose_by_rule(facts: GraphFacts) -> tuple[str, str, str]:
    """The first rule of :data:`RULES` that applies: ``(kind, rule name, reason)``."""
    for rule in RULES[:-1]:
        reason = rule.applies(facts)
        if reason:
            return rule.kind(facts), rule.name, reason
    last = RULES[-1]
    return last.kind(facts), last.name, last.applies(facts)


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


def build(plain_proto, kind: str):
    """The graph of ``kind`` (plain: ``plain_proto`` itself)."""
    if kind == "plain":
        return plain_proto
    from gantool.export.onnx_optimize import optimize

    return optimize(plain_proto, fourier=kind.endswith("+fourier"), chain=kind.startswith("optimized"))


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
    return GraphFacts(costs, guard, dft, up_layers(plain_proto))


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
