"""Which float32 ONNX graph an export writes, built and checked: by rule, forced, or timed on request.

``--graph auto`` (the default) builds the one graph the rules of :mod:`gantool.export.graph_rules`
name from the model's structure and estimated costs: the same model gives the same file on any
machine, and only one candidate is built and checked. ``--graph KIND`` forces a kind (written even
beyond the size guard, which the summary then states). ``--graph fastest-here`` is the explicit
request to time every candidate within the guard on this machine (:func:`fastest_here`); it keeps
the rule's choice unless another graph wins by more than the timing noise, and records the CPU,
onnxruntime version and thread count beside its timings (``report.json``, the export summary),
never in the file. ``--keep-graphs`` builds and checks every candidate within the guard and writes
them beside the output, for ``gantool bench`` on the target.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

from gantool.errors import GantoolError, first_line
from gantool.export.graph_rules import GRAPH_KINDS, GraphFacts, build, choose_by_rule, graph_facts
from gantool.runtime.contract import GRAPH_CHOICE_METADATA_KEY as CHOICE_METADATA_KEY
from gantool.runtime.describe import describe_choice

# What ``graph`` may say: a kind, the rules' choice, or the fastest here by timing.
GRAPH_CHOICES = ("auto", "fastest-here", *GRAPH_KINDS)
TIMING_BATCHES = (1, 64)
TIMING_ROUNDS = 7
# Each timed measurement repeats a run until it lasts at least this long (seconds).
MIN_MEASURE_S = 0.05
# The pause before each timed measurement (seconds; see time_candidates).
SETTLE_S = 0.06
# Fewer rounds (at least three) where all of them would take longer than this (seconds).
TIMING_BUDGET_S = 90.0
# fastest-here replaces the rule's choice only when the winner is faster by more than this margin
# and by more than the spread of the rounds (the noise of this machine while it measured).
MIN_MARGIN = 1.05


@dataclasses.dataclass
class Candidate:
    """One graph kind's fate: its estimated cost and, when built, its size, parity and (fastest-here) times."""

    kind: str
    status: str = "not built"  # chosen, not built, skipped, failed, measured, built
    reason: str = ""
    weight_bytes: int | None = None
    macs: int | None = None
    size_bytes: int | None = None
    max_abs: float | None = None
    ms: dict[int, float] = dataclasses.field(default_factory=dict)
    spread: dict[int, float] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    error = None  # not a field: why it failed parity, raised if it was the one asked for

    def to_dict(self, measurements: bool = True) -> dict:
        data = dataclasses.asdict(self)
        data.pop("path")
        data["ms"] = {str(b): round(ms, 4) for b, ms in self.ms.items()} if measurements else {}
        data["spread"] = {str(b): round(s, 4) for b, s in self.spread.items()} if measurements else {}
        if not measurements:
            data.pop("max_abs")  # parity to the last bit varies with the CPU's kernels; report.json keeps it
            data.pop("ms")
            data.pop("spread")
        return data


@dataclasses.dataclass
class GraphChoice:
    """The graph chosen, how (``rule``, ``forced``, ``fastest-here``), the rule that fired and why, every
    candidate, and (fastest-here) where and how it was timed."""

    chosen: str
    how: str
    rule: str
    reason: str
    candidates: list[Candidate]
    timing: dict | None = None

    def to_dict(self, measurements: bool = True) -> dict:
        """Everything (``report.json``); without ``measurements``, what the file's metadata keeps."""
        data = {"chosen": self.chosen, "how": self.how, "rule": self.rule, "reason": self.reason,
                "candidates": [c.to_dict(measurements) for c in self.candidates]}
        if measurements and self.timing:
            data["timing"] = self.timing
        return data

    def describe(self) -> list[str]:
        """Lines for a person: how it was chosen, one line per candidate (the chosen one starred)."""
        return describe_choice(self.to_dict())


def choose_graph(plain_proto, finish, check, scratch: Path, graph: str = "auto", keep_graphs: bool = False,
                 log=None) -> tuple[Path, GraphChoice, object]:
    """Choose, build and check the float graph; return its file (in ``scratch``), the choice and its parity.

    Args:
        plain_proto: tf2onnx's graph, names and contract already set.
        finish: ``(proto, kind) -> proto`` that stamps a built graph (its kind and contract in the metadata).
        check: ``path -> Parity``: the ONNX checker and parity against Keras; raises on a breach.
        scratch: an empty folder for the candidates' files (the caller removes it).
        graph: ``auto``, ``fastest-here`` or a kind of :data:`GRAPH_KINDS`.
        keep_graphs: also build and check every other candidate within the guard (``scratch/KIND.onnx``).
        log: ``str -> None`` for progress lines.

    Raises:
        GantoolError: ``graph`` is not one of :data:`GRAPH_CHOICES`.
        UnsupportedFormatError: a forced kind whose rewrite does not apply to this model.
        ExportValidationError: the chosen graph (and, for a rule's choice, the plain graph) failed parity.
    """
    check_graph_choice(graph)
    log = log or (lambda _line: None)
    facts = graph_facts(plain_proto)
    rule_kind, rule, reason = choose_by_rule(facts)
    candidates = {kind: _candidate(facts, kind) for kind in GRAPH_KINDS}
    if graph in GRAPH_KINDS:
        chosen, how, rule, reason = graph, "forced", "", _forced_reason(facts, graph)
        if facts.costs.get(graph) is None:
            from gantool.export.graph_rules import estimate

            estimate(plain_proto, graph)  # raises UnsupportedFormatError saying why
    else:
        chosen, how = rule_kind, "rule"
    wanted = [chosen]
    if graph == "fastest-here" or keep_graphs:
        wanted += [kind for kind in GRAPH_KINDS if kind != chosen and candidates[kind].status == "not built"]
    built = _build_all([candidates[k] for k in wanted], plain_proto, finish, check, scratch)
    if chosen not in built and how == "rule" and "plain" not in built:  # the rule's graph failed parity: a bug
        built.update(_build_all([candidates["plain"]], plain_proto, finish, check, scratch))
        chosen, reason = "plain", f"{chosen} failed parity ({candidates[chosen].reason}); plain instead"
    if chosen not in built:
        raise candidates[chosen].error
    timing = None
    if graph == "fastest-here":
        alive = [c for c in candidates.values() if c.kind in built]
        chosen, reason, timing = fastest_here(alive, chosen, reason, log)
        how = "fastest-here"
    for candidate in candidates.values():
        if candidate.kind in built:
            candidate.status = "chosen" if candidate.kind == chosen else ("measured" if timing else "built")
    choice = GraphChoice(chosen, how, rule, reason, list(candidates.values()), timing)
    return candidates[chosen].path, choice, built[chosen]


def check_graph_choice(graph: str) -> None:
    """Raises GantoolError unless ``graph`` is one of :data:`GRAPH_CHOICES`."""
    if graph not in GRAPH_CHOICES:
        raise GantoolError(f"`graph` must be one of {', '.join(GRAPH_CHOICES)}, got {graph!r}")


def _candidate(facts: GraphFacts, kind: str) -> Candidate:
    """A candidate with its estimated cost, skipped (and why) where it does not apply or breaks the guard."""
    cost = facts.costs.get(kind)
    candidate = Candidate(kind)
    if cost is None:
        candidate.status, candidate.reason = "skipped", "the rewrite does not apply to this graph"
        return candidate
    candidate.weight_bytes, candidate.macs = cost.weight_bytes, cost.macs
    base = kind.removesuffix("+fourier")
    if kind != base and facts.costs.get(base) == cost:
        candidate.status, candidate.reason = "skipped", f"same graph as {base} (no layer for the DFT form)"
    elif kind == "optimized" and facts.costs.get("layerwise") == cost and facts.fits("layerwise"):
        candidate.status, candidate.reason = "skipped", "same graph as layerwise (no ConvTranspose chains)"
    elif facts.guard.get(kind):
        candidate.status, candidate.reason = "skipped", f"estimated {facts.guard[kind]}"
    return candidate


def _forced_reason(facts: GraphFacts, kind: str) -> str:
    why = facts.guard.get(kind, "")
    return f"forced beyond the size guard: {why}" if why else "forced"


def _build_all(candidates: list[Candidate], plain_proto, finish, check, scratch: Path) -> dict[str, object]:
    """Build, write and check each candidate; kind -> Parity for those that passed (failures keep their error)."""
    from gantool.export import canonical

    built = {}
    for candidate in candidates:
        proto = finish(build(plain_proto, candidate.kind), candidate.kind)
        candidate.path = scratch / f"{candidate.kind}.onnx"
        canonical.save(proto, candidate.path)
        del proto
        candidate.size_bytes = candidate.path.stat().st_size
        try:
            built[candidate.kind] = check(candidate.path)
            candidate.max_abs = built[candidate.kind].max_abs
        except GantoolError as exc:
            candidate.status, candidate.reason, candidate.error = "failed", first_line(exc), exc
            candidate.path.unlink()
            candidate.path = None
    return built


def fastest_here(alive: list[Candidate], rule_kind: str, rule_reason: str, log) -> tuple[str, str, dict]:
    """Time ``alive`` here and pick: another graph replaces ``rule_kind`` only when it is faster by the geometric
    mean over :data:`TIMING_BATCHES` by more than :data:`MIN_MARGIN` and by more than the rounds' spread.

    Returns:
        The kind, the reason, and the timing record (CPU, onnxruntime, threads, rounds, margin, noise).
    """
    import onnxruntime

    environment = {"cpu": cpu_model(), "onnxruntime": onnxruntime.__version__, "threads": os.cpu_count(),
                   "batches": list(TIMING_BATCHES)}
    if len(alive) == 1:
        return rule_kind, f"{rule_reason}; the only candidate within the guard, nothing to time", environment
    log(f"Timing {len(alive)} graphs ({', '.join(c.kind for c in alive)}) at batch "
        f"{' and '.join(map(str, TIMING_BATCHES))} on this machine...")
    environment["rounds"] = time_candidates(alive)
    base = next(c for c in alive if c.kind == rule_kind)
    best = min(alive, key=lambda c: _geomean(c.ms[b] / base.ms[b] for b in TIMING_BATCHES))
    margin = 1 / _geomean(best.ms[b] / base.ms[b] for b in TIMING_BATCHES)
    noise = 1 + max(c.spread[b] for c in (base, best) for b in TIMING_BATCHES)
    environment.update(margin=round(margin, 4), noise=round(noise, 4))
    if best is base:
        return rule_kind, f"{rule_reason}; the fastest here too", environment
    if margin <= max(MIN_MARGIN, noise):
        return rule_kind, (f"{rule_reason}; timings were noisy: {best.kind} was {margin:.2f}x faster, inside this "
                           f"machine's noise ({noise:.2f}x) or the {MIN_MARGIN}x margin, so the rule's choice stays"), environment
    return best.kind, f"{margin:.2f}x faster here than the rule's {rule_kind} (noise {noise:.2f}x)", environment


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_candidates(candidates: list[Candidate], batches=TIMING_BATCHES, rounds: int = TIMING_ROUNDS) -> int:
    """Fill each candidate's ``ms`` (the fastest round, milliseconds per run) and ``spread`` (median over fastest,
    minus 1) at each batch, timed interleaved in one process; returns the rounds run.

    The fastest round counts: on a shared machine other work only ever adds time. The spread says how much
    it added, which :func:`fastest_here` takes as the noise a winner must beat.
    """
    import numpy as np

    runners = {c.kind: _backend(c.path) for c in candidates}
    latent_dim = runners[candidates[0].kind].contract.latent_dim
    rng = np.random.default_rng(0)
    inputs = {batch: rng.standard_normal((batch, latent_dim), dtype=np.float32) for batch in batches}
    repeats, round_s = {}, 0.0
    for c in candidates:  # warm up, and size each measurement to last MIN_MEASURE_S
        for batch in batches:
            runners[c.kind].run(inputs[batch])
            start = time.perf_counter()
            runners[c.kind].run(inputs[batch])
            seconds = max(time.perf_counter() - start, 1e-6)
            repeats[c.kind, batch] = max(1, min(50, math.ceil(MIN_MEASURE_S / seconds)))
            round_s += repeats[c.kind, batch] * seconds
    rounds = max(3, min(rounds, int(TIMING_BUDGET_S / round_s)))
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in repeats}
    shuffle = np.random.default_rng(0)
    for _ in range(rounds):
        # A shuffled order and a pause before each engine: a session's worker threads spin for about
        # 30 ms after a run, which in a fixed order slowed whichever engine came next by up to 30%.
        for index in shuffle.permutation(len(candidates)):
            c = candidates[index]
            for batch in batches:
                count = repeats[c.kind, batch]
                time.sleep(SETTLE_S)
                start = time.perf_counter()
                for _ in range(count):
                    runners[c.kind].run(inputs[batch])
                samples[c.kind, batch].append((time.perf_counter() - start) / count * 1e3)
    for c in candidates:
        c.ms = {batch: min(samples[c.kind, batch]) for batch in batches}
        c.spread = {batch: statistics.median(samples[c.kind, batch]) / c.ms[batch] - 1 for batch in batches}
    return rounds


def _geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _backend(path: Path):
    """The file in onnxruntime with the runtime's threading, but without onnxruntime's memory
    arena: every candidate's session is open at once, and arenas that keep each one's batch-64
    activations made the export of a 64x64 RGB generator need 1.8x the plain export's memory."""
    from gantool.runtime.backends.onnx_backend import OnnxBackend

    return OnnxBackend(path, memory_arena=False)


def store_choice(proto, choice: GraphChoice) -> None:
    """Write ``choice`` into ``proto``'s metadata without measurements (``gantool info`` prints it)."""
    from gantool.export.canonical import set_metadata

    set_metadata(proto, {CHOICE_METADATA_KEY: json.dumps(choice.to_dict(measurements=False), sort_keys=True)})


def graph_file(out: Path, kind: str) -> Path:
    """Where ``keep_graphs`` puts the candidate ``kind`` of an export to ``out``: ``STEM.KIND.onnx``."""
    return out.with_name(f"{out.stem}.{kind.replace('+', '-')}{out.suffix}")
