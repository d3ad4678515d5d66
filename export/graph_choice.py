"""Which float32 ONNX graph an export writes: each candidate costed, built, checked and timed.

A rewrite is a candidate, not a rule. On the DCGAN it was made for, composing the stacked
ConvTransposes into one sub-pixel convolution (``optimized``) and the DFT first layer
(``+fourier``) run 2x TensorFlow; on a generator with wider or deeper upsampling the composed
weights grow with the product of the strides (10x and 54x the plain file on two public 64x64
shapes, docs/export_graphs.md), and so do memory and time. So :func:`choose_graph`:

1. estimates each candidate's weight bytes and multiply-adds without building it
   (:func:`gantool.export.onnx_optimize.optimize` with ``estimate=True``) and skips any above
   :data:`MAX_WEIGHT_GROWTH` x the plain graph's weights or :data:`MAX_MAC_GROWTH` x its work;
2. builds the rest one at a time, writes each to a scratch file and checks it for parity;
3. times the survivors in onnxruntime at batch 1 and 64, interleaved over a few rounds;
4. keeps the fastest (by the geometric mean of its time ratios to ``plain``) among those no
   slower than ``plain`` at either batch beyond :data:`NOISE`; else ``plain``.

The candidates (:data:`GRAPH_KINDS`, also the ``gantool.graph`` metadata of the file):
``plain`` (tf2onnx's graph), ``layerwise`` (BatchNorm folded, each ConvTranspose a Conv +
DepthToSpace of its own size), ``optimized`` (the ConvTransposes chained through their phases,
one DepthToSpace at the end), and each of the last two ``+fourier``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

from gantool.errors import GantoolError, UnsupportedFormatError, first_line
from gantool.runtime.contract import GRAPH_CHOICE_METADATA_KEY as CHOICE_METADATA_KEY
from gantool.runtime.describe import describe_choice

GRAPH_KINDS = ("plain", "layerwise", "layerwise+fourier", "optimized", "optimized+fourier")
# A rewrite may make the file at most this much larger than the plain graph, and its work this much more.
MAX_WEIGHT_GROWTH = 1.25
MAX_MAC_GROWTH = 1.5
TIMING_BATCHES = (1, 64)
TIMING_ROUNDS = 5
# Each timed measurement repeats a run until it lasts at least this long (seconds).
MIN_MEASURE_S = 0.03
# Fewer rounds (at least two) where all of them would take longer than this (seconds): a 64x64 RGB
# generator runs a batch of 64 in seconds on two cores.
TIMING_BUDGET_S = 60.0
# A candidate slower than plain by more than this factor at either batch is not chosen.
NOISE = 1.05


@dataclasses.dataclass
class Candidate:
    """One graph kind's fate in :func:`choose_graph`."""

    kind: str
    status: str = "pending"  # chosen, slower, skipped, failed
    reason: str = ""
    weight_bytes: int | None = None
    macs: int | None = None
    size_bytes: int | None = None
    max_abs: float | None = None
    ms: dict[int, float] = dataclasses.field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("path")
        data["ms"] = {str(batch): round(ms, 4) for batch, ms in self.ms.items()}
        return data


@dataclasses.dataclass
class GraphChoice:
    """The candidates and the one chosen, with how it was chosen (``measured``, ``forced``, ...)."""

    chosen: str
    how: str
    candidates: list[Candidate]

    def to_dict(self) -> dict:
        return {"chosen": self.chosen, "how": self.how, "candidates": [c.to_dict() for c in self.candidates]}

    def describe(self) -> list[str]:
        """Lines for a person: how it was chosen, one line per candidate (the chosen one starred)."""
        return describe_choice(self.to_dict())


def estimate(plain_proto, kind: str):
    """The :class:`~gantool.export.onnx_optimize.GraphCost` of ``kind`` built from ``plain_proto`` (nothing built)."""
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


def _tensor_bytes(tensor) -> int:
    from onnx import helper

    itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    return int(math.prod(tensor.dims)) * itemsize


def within_guard(plain, cost) -> str:
    """"" when ``cost`` is within the guard against the ``plain`` graph's, else why not."""
    weights = cost.weight_bytes / max(plain.weight_bytes, 1)
    if weights > MAX_WEIGHT_GROWTH:
        return f"weights {weights:.2f}x plain > {MAX_WEIGHT_GROWTH}x"
    if plain.macs and cost.macs / plain.macs > MAX_MAC_GROWTH:
        return f"work {cost.macs / plain.macs:.2f}x plain > {MAX_MAC_GROWTH}x"
    return ""


def choose_graph(plain_proto, finish, check, scratch: Path, kinds=GRAPH_KINDS,
                 log=None) -> tuple[Path, GraphChoice, object]:
    """Cost, build, check and time ``kinds``; return the chosen file (in a scratch folder), the choice and its parity.

    Args:
        plain_proto: tf2onnx's graph, names and contract already set.
        finish: ``(proto, kind) -> proto`` that stamps a built graph (its kind and contract in the metadata).
        check: ``path -> Parity``: the ONNX checker and parity against Keras; raises on a breach.
        kinds: the candidates (one kind: forced, built without the guard or timing).
        scratch: an empty folder for the candidates' files (the caller removes it).
        log: ``str -> None`` for progress lines.

    Each candidate that passed parity stays in ``scratch`` as ``KIND.onnx``.

    Raises:
        ExportValidationError: no candidate passed parity (the plain graph's error is raised).
    """
    log = log or (lambda _line: None)
    forced = len(kinds) == 1
    candidates = [Candidate(kind) for kind in kinds]
    plain_cost = estimate(plain_proto, "plain")
    for candidate in candidates:
        try:
            cost = estimate(plain_proto, candidate.kind)
        except UnsupportedFormatError as exc:
            if forced:
                raise
            candidate.status, candidate.reason = "skipped", first_line(exc)
            continue
        candidate.weight_bytes, candidate.macs = cost.weight_bytes, cost.macs
        why = "" if forced else within_guard(plain_cost, cost)
        if why:
            candidate.status, candidate.reason = "skipped", f"estimated {why}"
    first_error = None
    built: dict[str, object] = {}
    seen: dict[tuple, str] = {}
    for candidate in [c for c in candidates if c.status == "pending"]:
        proto = finish(build(plain_proto, candidate.kind), candidate.kind)
        kind = _graph_kind(proto)
        if kind != candidate.kind:  # a "+fourier" candidate whose layer did not match is its base graph again
            candidate.status, candidate.reason = "skipped", f"same graph as {kind} (no layer for the DFT form)"
            continue
        shape = (tuple(n.op_type for n in proto.graph.node), proto.ByteSize() - len(kind))
        if shape in seen:  # e.g. layerwise and optimized where no ConvTranspose chains
            candidate.status, candidate.reason = "skipped", f"same graph as {seen[shape]}"
            continue
        seen[shape] = candidate.kind
        candidate.path = scratch / f"{candidate.kind}.onnx"
        import onnx

        onnx.save(proto, candidate.path)
        del proto
        candidate.size_bytes = candidate.path.stat().st_size
        try:
            built[candidate.kind] = check(candidate.path)
            candidate.max_abs = built[candidate.kind].max_abs
        except GantoolError as exc:
            first_error = first_error or exc
            candidate.status, candidate.reason = "failed", first_line(exc)
            candidate.path.unlink()
    alive = [c for c in candidates if c.kind in built]
    if not alive:
        raise first_error
    if len(alive) > 1:
        log(f"Timing {len(alive)} graphs ({', '.join(c.kind for c in alive)}) at batch "
            f"{' and '.join(map(str, TIMING_BATCHES))}...")
        time_candidates(alive)
    chosen = _pick(alive)
    for candidate in alive:
        if candidate is chosen:
            candidate.status = "chosen"
        elif candidate.status == "pending":
            candidate.status = "measured"
    how = "forced" if forced else ("measured" if len(alive) > 1 else "the only candidate left")
    choice = GraphChoice(chosen.kind, how, candidates)
    return chosen.path, choice, built[chosen.kind]


def graph_file(out: Path, kind: str) -> Path:
    """Where ``keep_graphs`` puts the candidate ``kind`` of an export to ``out``: ``STEM.KIND.onnx``."""
    return out.with_name(f"{out.stem}.{kind.replace('+', '-')}{out.suffix}")


def _graph_kind(proto) -> str:
    from gantool.runtime.contract import GRAPH_METADATA_KEY

    return {p.key: p.value for p in proto.metadata_props}.get(GRAPH_METADATA_KEY, "")


def _pick(alive: list[Candidate]) -> Candidate:
    """The fastest candidate no slower than plain at any batch (beyond :data:`NOISE`), else plain."""
    base = next((c for c in alive if c.kind == "plain"), None)
    if base is None or not base.ms:
        return min(alive, key=lambda c: _geomean(c.ms.values()) if c.ms else 0.0)
    best, best_score = base, 1.0
    for candidate in alive:
        ratios = [candidate.ms[b] / base.ms[b] for b in TIMING_BATCHES]
        if candidate is base:
            continue
        if max(ratios) > NOISE:
            candidate.reason = "slower than plain at batch " + " and ".join(
                str(b) for b, r in zip(TIMING_BATCHES, ratios, strict=True) if r > NOISE)
            continue
        score = _geomean(ratios)
        if score < best_score:
            best, best_score = candidate, score
    return best


def _geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def time_candidates(candidates: list[Candidate], batches=TIMING_BATCHES, rounds: int = TIMING_ROUNDS) -> None:
    """Fill each candidate's ``ms`` (milliseconds per run) at each batch, timed interleaved in one process.

    The fastest round counts: on a shared machine other work only ever adds time, so the minimum is the
    estimate least disturbed by it (the median moved by 1.5x between exports on a busy machine).
    """
    import numpy as np

    backends = {c.kind: _backend(c.path) for c in candidates}
    runners = {kind: backend.run for kind, backend in backends.items()}
    latent_dim = backends[candidates[0].kind].contract.latent_dim
    rng = np.random.default_rng(0)
    inputs = {batch: rng.standard_normal((batch, latent_dim), dtype=np.float32) for batch in batches}
    repeats, round_s = {}, 0.0
    for c in candidates:  # warm up, and size each measurement to last MIN_MEASURE_S
        for batch in batches:
            _run(runners[c.kind], inputs[batch])
            start = time.perf_counter()
            _run(runners[c.kind], inputs[batch])
            seconds = max(time.perf_counter() - start, 1e-6)
            repeats[c.kind, batch] = max(1, min(50, math.ceil(MIN_MEASURE_S / seconds)))
            round_s += repeats[c.kind, batch] * seconds
    rounds = max(2, min(rounds, int(TIMING_BUDGET_S / round_s)))
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in repeats}
    for round_index in range(rounds):
        order = candidates if round_index % 2 == 0 else list(reversed(candidates))
        for c in order:
            for batch in batches:
                count = repeats[c.kind, batch]
                start = time.perf_counter()
                for _ in range(count):
                    _run(runners[c.kind], inputs[batch])
                samples[c.kind, batch].append((time.perf_counter() - start) / count * 1e3)
    for c in candidates:
        c.ms = {batch: min(samples[c.kind, batch]) for batch in batches}


def _run(runner, z):
    return runner(z)  # a conditional model draws the label convention's labels


def _backend(path: Path):
    """The file in onnxruntime with the runtime's threading, but without onnxruntime's memory
    arena: every candidate's session is open at once, and arenas that keep each one's batch-64
    activations made the export of a 64x64 RGB generator need 1.8x the plain export's memory."""
    from gantool.runtime.backends.onnx_backend import OnnxBackend

    return OnnxBackend(path, memory_arena=False)


def store_choice(proto, choice: GraphChoice) -> None:
    """Write ``choice`` into ``proto``'s metadata (``gantool info`` prints it)."""
    import onnx

    props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {**props, CHOICE_METADATA_KEY: json.dumps(choice.to_dict())})


def int8_base(plain_proto, graph: str) -> str:
    """The float graph an int8 export quantizes: ``graph`` without its DFT form, or with ``auto`` the
    most rewritten kind within the guard (no timing: the quantizer changes the speed anyway)."""
    if graph != "auto":
        return graph.removesuffix("+fourier")
    plain = estimate(plain_proto, "plain")
    for kind in ("optimized", "layerwise"):
        try:
            if not within_guard(plain, estimate(plain_proto, kind)):
                return kind
        except UnsupportedFormatError:
            continue
    return "plain"


def graph_kinds(graph: str, fourier: bool | None) -> tuple[str, ...]:
    """The candidates for ``graph`` ("auto" or one kind), without DFT forms when ``fourier`` is False."""
    if graph == "auto":
        return tuple(k for k in GRAPH_KINDS if fourier is not False or not k.endswith("+fourier"))
    if graph not in GRAPH_KINDS:
        raise GantoolError(f"`graph` must be auto or one of {', '.join(GRAPH_KINDS)}, got {graph!r}")
    return (graph,)


