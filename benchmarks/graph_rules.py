"""Calibration for a graph rule: every ONNX graph kind of every zoo model, costed, built and timed side by side.

``gantool export`` picks its float32 ONNX graph among ``GRAPH_KINDS`` (export/graph_choice.py) by timing
the candidates within the size guard. This script measures what a deterministic rule, decided from the
model's structure alone, would have to reproduce. For each model (the zoo at full size, and ``dcgan``:
tests/golden/generator.keras, the default recipe's architecture):

1. structure: every Conv / ConvTranspose of tf2onnx's plain graph (channels, kernel, stride, input
   map), BatchNorm layers, whether a Dense -> Reshape -> Conv|ConvTranspose pattern starts the graph,
   latent size, output HxWxC, the plain graph's weight bytes and multiply-adds per image;
2. per kind: the estimate (``graph_choice.estimate``: weight bytes, multiply-adds, nothing built) and
   whether it is within the size guard; then the graph itself (``build`` + ``finish_graph``), with
   duplicates found as the export finds them (a ``+fourier`` kind whose DFT layer did not match is its
   base again; an identical op list and size is the same graph);
3. time: every distinct kind in onnxruntime (``OnnxBackend``, no memory arena, as the export times
   them) and again with onnxruntime's NchwcTransformer disabled, plus TensorFlow (a ``tf.function`` of
   the Keras model) and a second session of the plain file (``plain A/A``: its ratio to ``plain`` is
   the noise floor of the run), interleaved round by round in this one process at batch 1 and 64.
   Each measurement repeats a run until it lasts ``--min-measure`` seconds; the FASTEST round counts
   (other work on a shared machine only adds time). ``--budget`` caps the seconds of timed rounds per
   model (at least two rounds), so the 64x64 models run fewer rounds.

   Each round takes the engines in a new (seeded) random order and sleeps ``--settle`` seconds before
   each engine: after a run, onnxruntime's intra-op workers keep spinning on a core for ~30 ms
   (measured here, 2 cores), so an engine timed right after another session ran lost up to 30% to it;
   in a fixed order the engines in the middle never follow themselves and an A/A pair of the same file
   differed by 0.56x-0.80x, with the settle and shuffle by 0.91x-1.02x.

   Where other processes keep the cores busy, wall-clock ratios stay noisy however many rounds run
   (the A/A rows say how much). ``--threads 1 --clock cpu`` times the same way but counts the
   process's CPU time per run on one thread: the work of each graph, which time-slicing by other
   processes does not add to (caches and memory bandwidth are still shared).

Writes a Markdown table (stdout) and everything in JSON (``--json``). Not a test: it only measures.

    python benchmarks/graph_rules.py                          # all zoo models and dcgan
    python benchmarks/graph_rules.py dcgan cifar32 --rounds 3
    python benchmarks/graph_rules.py --json calib.json > calib.md
    python benchmarks/graph_rules.py --threads 1 --clock cpu --max-mac-growth 3   # on a busy machine

``--profile`` runs onnxruntime's profiler instead, for one model and the given kinds, at batch 64, and
prints the time per op type (and the top nodes) as a share of the total of the node kernels:

    python benchmarks/graph_rules.py --profile dcgan64 --kind plain --kind layerwise [--no-nchwc]
"""

from __future__ import annotations

import argparse
import collections
import functools
import inspect
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
BUNDLED_SOURCE = REPO / "tests" / "golden" / "generator.keras"
BATCHES = (1, 64)
NCHWC = "NchwcTransformer"
AA = "plain A/A"
# Elementwise or layout ops a Dense -> Reshape -> convolution pattern may have between its parts.
PASS_THROUGH = {"Add", "Mul", "Sub", "Div", "Relu", "LeakyRelu", "Elu", "Tanh", "Sigmoid", "Identity",
                "BatchNormalization", "Transpose", "Cast"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="zoo names, or 'dcgan' (tests/golden/generator.keras); default: all")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (the fastest counts)")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds of timed rounds per model at most (fewer rounds, at least two, beyond it)")
    parser.add_argument("--min-measure", type=float, default=0.05, help="seconds each measurement lasts at least")
    parser.add_argument("--settle", type=float, default=0.06,
                        help="seconds to sleep before each engine's measurements (the last session's workers spin)")
    parser.add_argument("--threads", type=int, help="intra-op threads of onnxruntime and TensorFlow "
                        "(default: each one's own, one per core)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time per run: wall clock, or the process's CPU time (with --threads 1: the work, "
                        "which other processes on a busy machine cannot add to)")
    parser.add_argument("--max-mac-growth", type=float, default=None,
                        help="do not build or time kinds estimated above this many times plain's multiply-adds")
    parser.add_argument("--json", type=Path, help="write every figure here too")
    parser.add_argument("--profile", metavar="MODEL", help="profile MODEL's --kind graphs instead of calibrating")
    parser.add_argument("--kind", action="append", help="with --profile: a graph kind (repeatable; default plain)")
    parser.add_argument("--no-nchwc", action="store_true", help="with --profile: also profile with NchwcTransformer off")
    parser.add_argument("--runs", type=int, default=5, help="with --profile: profiled batch-64 runs (after one warm-up)")
    return parser.parse_args()


# --- the model and its plain graph -------------------------------------------------------------------------


def source_path(name: str, folder: Path) -> Path:
    """``name`` as a .keras file in ``folder`` (the zoo at full size), or the bundled model's source."""
    if name == "dcgan":
        return BUNDLED_SOURCE
    from gantool.export.zoo import ZOO, save

    return save(ZOO[name](width=1.0, seed=0), folder, name)


def load(name: str, folder: Path):
    """(keras_model, contract, plain_proto) of ``name``."""
    from gantool.export.keras_to_onnx import to_onnx_proto
    from gantool.export.source import load_source

    keras_model, contract, _ = load_source(source_path(name, folder))
    # tf2onnx's graph as it is: optimize=False where to_onnx_proto still rewrites by default.
    plain = {"optimize": False} if "optimize" in inspect.signature(to_onnx_proto).parameters else {}
    return keras_model, contract, to_onnx_proto(keras_model, contract, **plain)


def graph_api():
    """The module with GRAPH_KINDS, estimate, build and within_guard: graph_rules, or graph_choice before it."""
    try:
        from gantool.export import graph_rules as api
    except ImportError:
        from gantool.export import graph_choice as api
    return api


def structure(keras_model, contract, plain) -> dict:
    """What a rule could read from the model: its convolutions, BatchNorms, the Dense -> map pattern, sizes."""
    import keras

    from gantool.export.onnx_graph import attributes, tensor_shapes
    from gantool.export.source import iter_layers

    shapes = {**tensor_shapes(plain), **symbolic_shapes(plain)}
    weights = {t.name: tuple(t.dims) for t in plain.graph.initializer}
    convs = []
    for node in plain.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        attrs, w = attributes(node), weights.get(node.input[1], ())
        transposed = node.op_type == "ConvTranspose"
        in_channels, out_channels = (w[0], w[1] * attrs.get("group", 1)) if transposed else (w[1], w[0])
        dims, out_dims = shapes.get(node.input[0], ()), shapes.get(node.output[0], ())
        hw = list(dims[2:]) if len(dims) == 4 and all(isinstance(d, int) for d in dims[2:]) else None
        out_hw = list(out_dims[2:]) if len(out_dims) == 4 and all(isinstance(d, int) for d in out_dims[2:]) else None
        # Multiply-adds per image: every weight once per input pixel (ConvTranspose) or output pixel (Conv).
        macs = math.prod(w) * math.prod((hw if transposed else out_hw) or [0])
        convs.append({"op": node.op_type, "name": node.name, "in_channels": in_channels, "out_channels": out_channels,
                      "kernel": list(w[2:]), "stride": list(attrs.get("strides", [1, 1])),
                      "pads": list(attrs.get("pads", [])), "input_hw": hw, "output_hw": out_hw, "macs": macs})
    ops = collections.Counter(n.op_type for n in plain.graph.node)
    cost = graph_api().estimate(plain, "plain")
    transposed = [c for c in convs if c["op"] == "ConvTranspose"]
    return {
        "latent_dim": contract.latent_dim, "output_hwc": list(contract.output_shape),
        "conditional": contract.conditional,
        "conv_transpose_count": len(transposed), "conv_count": len(convs) - len(transposed), "convs": convs,
        "max_conv_transpose_stride_product": math.prod(c["stride"][0] for c in transposed) if transposed else 0,
        "batchnorm_layers": sum(isinstance(layer, keras.layers.BatchNormalization) for layer in iter_layers(keras_model)),
        "batchnorm_onnx_nodes": ops.get("BatchNormalization", 0),
        "dense_reshape_conv": dense_reshape_conv(plain, weights),
        "plain_weight_bytes": cost.weight_bytes, "plain_macs": cost.macs,
        # graph_macs counts a convolution only where ONNX shape inference knows its map (not after a Resize);
        # this counts every convolution with onnxruntime's symbolic shapes, and the Dense layers.
        "plain_macs_all_convs": sum(c["macs"] for c in convs) + sum(
            math.prod(weights[n.input[1]]) for n in plain.graph.node
            if n.op_type in ("MatMul", "Gemm") and len(weights.get(n.input[1], ())) == 2),
        "plain_ops": dict(sorted(ops.items())),
    }


def symbolic_shapes(proto) -> dict[str, tuple]:
    """Tensor name -> dims from onnxruntime's symbolic shape inference (it follows Resize; ONNX's does not)."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        inferred = SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
    except Exception as exc:  # a tool, not the runtime: report and fall back to ONNX's shapes
        print(f"  symbolic shape inference failed: {exc}", file=sys.stderr)
        return {}
    return {v.name: tuple(d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim)
            for v in inferred.graph.value_info if v.type.tensor_type.HasField("shape")}


def dense_reshape_conv(plain, weights: dict) -> dict | None:
    """The first convolution a Dense layer feeds through a Reshape (elementwise and layout ops between), or None."""
    from gantool.export.onnx_graph import attributes

    readers = collections.defaultdict(list)
    for node in plain.graph.node:
        for name in node.input:
            readers[name].append(node)
    for dense in plain.graph.node:
        if dense.op_type not in ("MatMul", "Gemm") or len(weights.get(dense.input[1], ())) != 2:
            continue
        tensor, seen_reshape, path = dense.output[0], False, []
        while len(readers[tensor]) == 1:
            node = readers[tensor][0]
            path.append(node.op_type)
            if node.op_type in ("Conv", "ConvTranspose") and seen_reshape:
                attrs, w = attributes(node), weights.get(node.input[1], ())
                return {"op": node.op_type, "kernel": list(w[2:]), "stride": list(attrs.get("strides", [1, 1])),
                        "path": path}
            if node.op_type == "Reshape":
                seen_reshape = True
            elif node.op_type not in PASS_THROUGH:
                break
            tensor = node.output[0]
    return None


# --- the kinds ------------------------------------------------------------------------------------------------


def kinds(plain, contract, folder: Path, max_mac_growth: float | None) -> dict[str, dict]:
    """kind -> its estimate, guard verdict, and (when built and distinct) its file in ``folder``."""
    import onnx

    from gantool.errors import UnsupportedFormatError
    from gantool.export.keras_to_onnx import finish_graph, graph_kind, session_record

    api = graph_api()
    GRAPH_KINDS, build, estimate, within_guard = api.GRAPH_KINDS, api.build, api.estimate, api.within_guard  # noqa: N806
    plain_cost = estimate(plain, "plain")
    out, seen = {}, {}
    for kind in GRAPH_KINDS:
        record = out[kind] = {"kind": kind}
        started = time.perf_counter()
        try:
            cost = estimate(plain, kind)
        except UnsupportedFormatError as exc:
            record.update(status="n/a", reason=str(exc).splitlines()[0])
            continue
        why = within_guard(plain_cost, cost)
        record.update(weight_bytes=cost.weight_bytes, macs=cost.macs,
                      weight_ratio=cost.weight_bytes / max(plain_cost.weight_bytes, 1),
                      mac_ratio=cost.macs / max(plain_cost.macs, 1), in_guard=not why, guard=why,
                      estimate_s=time.perf_counter() - started)
        if max_mac_growth and record["mac_ratio"] > max_mac_growth:
            record.update(status="not built", reason=f"work {record['mac_ratio']:.2f}x plain > --max-mac-growth")
            continue
        started = time.perf_counter()
        proto = finish_graph(build(plain, kind), contract, kind)
        record["build_s"] = time.perf_counter() - started
        record["session"] = session_record(proto)  # what the file asks of onnxruntime (its session rule)
        built = graph_kind(proto)
        if built != kind:
            record.update(status="duplicate", same_as=built, reason=f"same graph as {built} (no layer for the DFT form)")
            continue
        shape = (tuple(n.op_type for n in proto.graph.node), proto.ByteSize() - len(kind))
        if shape in seen:
            record.update(status="duplicate", same_as=seen[shape], reason=f"same graph as {seen[shape]}")
            continue
        seen[shape] = kind
        path = folder / f"{kind.replace('+', '-')}.onnx"
        onnx.save(proto, path)
        record.update(status="built", path=str(path), size_bytes=path.stat().st_size,
                      ops=dict(sorted(collections.Counter(n.op_type for n in proto.graph.node).items())))
        del proto
    return out


# --- timing ---------------------------------------------------------------------------------------------------


def nchwc_off_session(path, enable_profiling: bool = False, threads: int | None = None):
    """An onnxruntime session as the runtime's (no memory arena) but with the NchwcTransformer disabled."""
    import onnxruntime as ort

    from gantool.runtime.backends.onnx_backend import session_options

    options = session_options(threads, memory_arena=False)
    options.enable_profiling = enable_profiling
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=[NCHWC])


def engines(keras_model, contract, built: dict[str, str], threads: int | None = None) -> dict:
    """name -> run(batch): TensorFlow, then each built kind as the runtime runs it and with Nchwc off
    (``threads``: onnxruntime's intra-op threads; None: its default, one per core)."""
    import tensorflow as tf

    from gantool.runtime.backends.onnx_backend import OnnxBackend

    rng = np.random.default_rng(0)
    z = {b: rng.standard_normal((b, contract.latent_dim), dtype=np.float32) for b in BATCHES}
    labels = {b: contract.default_labels(b) for b in BATCHES}
    compiled = tf.function(lambda *inputs: keras_model(list(inputs) if len(inputs) > 1 else inputs[0], training=False))
    tf_inputs = {b: [tf.constant(z[b])] + ([tf.constant(labels[b])] if contract.conditional else []) for b in BATCHES}
    runs = {"tf": lambda b: compiled(*tf_inputs[b]).numpy()}
    for kind, path in built.items():
        # onnxruntime's defaults, whatever session rule the file carries: the "Nchwc off" columns are the other setting.
        backend = OnnxBackend(Path(path), threads, memory_arena=False, apply_file_settings=False)
        runs[kind] = lambda b, backend=backend: backend.run(z[b])
        session = nchwc_off_session(path, threads=threads)
        feed = {b: {contract.input_name: z[b], **({contract.label_name: labels[b]} if contract.conditional else {})}
                for b in BATCHES}
        runs[f"{kind} nchwc-off"] = lambda b, s=session, f=feed: s.run([contract.output_name], f[b])[0]
        if kind == "plain":  # the same file in a second session: the noise floor
            copy = OnnxBackend(Path(path), threads, memory_arena=False, apply_file_settings=False)
            runs[AA] = lambda b, backend=copy: backend.run(z[b])
    return runs


def check_outputs(runs: dict) -> dict[str, float]:
    """name -> max |difference| from TensorFlow's output at batch 64 (a wiring check, not the parity check)."""
    reference = runs["tf"](64)
    return {name: float(np.max(np.abs(run(64) - reference))) for name, run in runs.items()}


def time_interleaved(runs: dict, rounds: int, budget_s: float, min_measure_s: float, settle_s: float,
                     clock=time.perf_counter) -> dict:
    """name -> {batch: fastest ms per run}, interleaved round by round in a shuffled order, each engine
    after a ``settle_s`` sleep; plus the rounds and repeats used. ``clock``: wall time, or
    ``time.process_time`` (the process's CPU time: what other work on the machine cannot add to)."""
    repeats, round_s = {}, 0.0
    for name, run in runs.items():
        for batch in BATCHES:
            run(batch)  # warm up: tracing, thread pools, first allocations
            start = time.perf_counter()
            run(batch)
            seconds = max(time.perf_counter() - start, 1e-6)
            repeats[name, batch] = max(1, min(1000, math.ceil(min_measure_s / seconds)))
            round_s += repeats[name, batch] * seconds
    round_s += settle_s * len(runs)
    rounds = max(2, min(rounds, int(budget_s / round_s)))
    print(f"  {len(runs)} engines, {rounds} rounds of ~{round_s:.0f} s", file=sys.stderr)
    samples = {key: [] for key in repeats}
    names, shuffle = list(runs), random.Random(0)
    for _ in range(rounds):
        for name in shuffle.sample(names, len(names)):
            time.sleep(settle_s)
            for batch in BATCHES:
                count = repeats[name, batch]
                start = clock()
                for _ in range(count):
                    runs[name](batch)
                samples[name, batch].append((clock() - start) / count * 1e3)
    return {"rounds": rounds, "round_s": round_s,
            "repeats": {f"{name} b{batch}": count for (name, batch), count in repeats.items()},
            "ms": {name: {str(b): min(samples[name, b]) for b in BATCHES} for name in names},
            "ms_all": {name: {str(b): samples[name, b] for b in BATCHES} for name in names}}


def calibrate(name: str, args) -> dict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keras_model, contract, plain = load(name, folder)
        convert_s = time.perf_counter() - started
        features = structure(keras_model, contract, plain)
        records = kinds(plain, contract, folder, args.max_mac_growth)
        del plain
        built = {k: r["path"] for k, r in records.items() if r.get("status") == "built"}
        print(f"  converted in {convert_s:.0f} s; built {', '.join(built)}", file=sys.stderr)
        runs = engines(keras_model, contract, built, args.threads)
        max_abs = check_outputs(runs)
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        timing = time_interleaved(runs, args.rounds, args.budget, args.min_measure, args.settle, clock)
        timing.update(clock=args.clock, threads=args.threads)
        samples = timing["ms_all"]
        # The median over rounds of plain's time / the engine's in the same round: steadier than the
        # ratio of the two minimums where the load of the machine changes between rounds.
        timing["paired_speed_vs_plain"] = {
            name: {b: statistics.median(p / e for p, e in zip(samples["plain"][b], samples[name][b], strict=True))
                   for b in samples[name]} for name in samples}
        del runs
    for record in records.values():
        record.pop("path", None)
    return {"model": name, "features": features, "kinds": records, "timing": timing, "max_abs_vs_tf": max_abs,
            "seconds": time.perf_counter() - started}


# --- the table ------------------------------------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None, paired: float | None = None) -> str:
    """numerator / denominator, then the paired median ratio in parentheses when given."""
    text = f"{numerator / denominator:.2f}" if numerator and denominator else "-"
    return f"{text} ({paired:.2f})" if paired is not None else text


def speed_vs_plain(timing: dict, name: str, batch: str) -> str:
    """plain's fastest round / the engine's, and in parentheses the median of the two's ratio within each round."""
    plain, paired = timing["ms"].get("plain", {}), timing.get("paired_speed_vs_plain", {})
    return ratio(plain.get(batch), timing["ms"][name][batch], paired.get(name, {}).get(batch))


LEGEND = ("Speed x plain: plain's fastest round / the engine's fastest round; in parentheses the median over "
          "rounds of plain's time / the engine's in the same round. plain A/A: a second session of the plain "
          "file (the noise floor). Size: the file (~: the estimated weights of a graph not built).")


def table(rows: list[dict]) -> str:
    lines = ["| model | kind | size MB | MMACs/img | weights x plain | MACs x plain | in guard | b1 ms | b64 ms | "
             "b1 speed x plain | b64 speed x plain | Nchwc off: b1 ms | b64 ms | b1 speed x plain | b64 speed x plain |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        ms = row["timing"]["ms"]
        speed = functools.partial(speed_vs_plain, row["timing"])

        for kind, r in row["kinds"].items():
            head = f"| {row['model']} | {kind} |"
            if r["status"] == "n/a":
                lines.append(f"{head} n/a ({r['reason']}) |" + " |" * 13)
                continue
            # The file's size where built, else the estimated weights (~).
            size = f"{r['size_bytes'] / 1e6:.1f}" if "size_bytes" in r else f"~{r['weight_bytes'] / 1e6:.1f}"
            cost = (f" {size} | {r['macs'] / 1e6:.1f} | {r['weight_ratio']:.2f} | "
                    f"{r['mac_ratio']:.2f} | {'yes' if r['in_guard'] else 'no'} |")
            if r["status"] != "built":
                lines.append(f"{head}{cost} {r.get('reason', r['status'])} |" + " |" * 7)
                continue
            on, off = ms[kind], ms[f"{kind} nchwc-off"]
            lines.append(f"{head}{cost} {on['1']:.3f} | {on['64']:.2f} | {speed(kind, '1')} | {speed(kind, '64')} | "
                         f"{off['1']:.3f} | {off['64']:.2f} | {speed(f'{kind} nchwc-off', '1')} | "
                         f"{speed(f'{kind} nchwc-off', '64')} |")
        if AA in ms:
            aa = ms[AA]
            lines.append(f"| {row['model']} | {AA} | | | | | | {aa['1']:.3f} | {aa['64']:.2f} | "
                         f"{speed(AA, '1')} | {speed(AA, '64')} |" + " |" * 4)
        tf = ms["tf"]
        lines.append(f"| {row['model']} | TF | | | | | | {tf['1']:.3f} | {tf['64']:.2f} | {speed('tf', '1')} | "
                     f"{speed('tf', '64')} |" + " |" * 4)
    return "\n".join(lines)


def features_table(rows: list[dict]) -> str:
    lines = ["| model | latent | out HxWxC | ConvT (in->out, k, s, map) | Conv (in->out, k, s, map) | BN layers | "
             "Dense->Reshape->conv | plain MB | plain MMACs (estimate / all convs) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def conv(c):
        hw = "x".join(map(str, c["input_hw"])) if c["input_hw"] else "?"
        return f"{c['in_channels']}->{c['out_channels']} k{c['kernel'][0]} s{c['stride'][0]} @{hw}"

    for row in rows:
        f = row["features"]
        pattern = f["dense_reshape_conv"]
        pattern = f"{pattern['op']} k{pattern['kernel'][0]} s{pattern['stride'][0]}" if pattern else "no"
        lines.append(f"| {row['model']} | {f['latent_dim']} | {'x'.join(map(str, f['output_hwc']))} | "
                     f"{'; '.join(conv(c) for c in f['convs'] if c['op'] == 'ConvTranspose') or '-'} | "
                     f"{'; '.join(conv(c) for c in f['convs'] if c['op'] == 'Conv') or '-'} | {f['batchnorm_layers']} | "
                     f"{pattern} | {f['plain_weight_bytes'] / 1e6:.1f} | {f['plain_macs'] / 1e6:.1f} / "
                     f"{f['plain_macs_all_convs'] / 1e6:.1f} |")
    return "\n".join(lines)


# --- profile --------------------------------------------------------------------------------------------------


def profile(name: str, kind_names: list[str], runs: int, nchwc_off: bool) -> str:
    """Markdown: per kind (and session), the share of node-kernel time per op type and the top 5 nodes at batch 64."""
    import onnxruntime as ort

    from gantool.export.keras_to_onnx import finish_graph, graph_kind
    from gantool.runtime.backends.onnx_backend import session_options

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keras_model, contract, plain = load(name, folder)
        for kind in kind_names:
            proto = finish_graph(graph_api().build(plain, kind), contract, kind)
            if graph_kind(proto) != kind:
                out.append(f"### {name} {kind}: same graph as {graph_kind(proto)}\n")
                continue
            path = folder / f"{kind.replace('+', '-')}.onnx"
            import onnx

            onnx.save(proto, path)
            for off in (False, True) if nchwc_off else (False,):
                if off:
                    session = nchwc_off_session(path, enable_profiling=True)
                else:
                    options = session_options(None, memory_arena=False)
                    options.enable_profiling = True
                    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
                rng = np.random.default_rng(0)
                feed = {contract.input_name: rng.standard_normal((64, contract.latent_dim), dtype=np.float32)}
                if contract.conditional:
                    feed[contract.label_name] = contract.default_labels(64)
                wall = []
                for _ in range(runs + 1):
                    start = time.perf_counter()
                    session.run([contract.output_name], feed)
                    wall.append((time.perf_counter() - start) * 1e3)
                trace = Path(session.end_profiling())
                events = json.loads(trace.read_text())
                trace.unlink()
                out.append(summarize(events, f"{name} {kind}" + (" (NchwcTransformer off)" if off else ""), wall[1:]))
    return "\n".join(out)


def summarize(events: list[dict], title: str, wall_ms: list[float]) -> str:
    """The node kernels' time by op type and the top 5 nodes. Every run but the first (the warm-up) is
    profiled; each node counts with its fastest run (a busy machine only adds time), and the shares are
    of the sum of those."""
    model_runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[1:]
    fastest, op_of = {}, {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        if not any(lo <= e["ts"] <= hi for lo, hi in model_runs):
            continue
        node = e["name"].removesuffix("_kernel_time")
        op_of[node] = e["args"].get("op_name", "?")
        fastest[node] = min(fastest.get(node, math.inf), e["dur"])
    by_type = collections.Counter()
    for node, us in fastest.items():
        by_type[op_of[node]] += us
    total = max(sum(fastest.values()), 1)
    runs = sorted((hi - lo) / 1e3 for lo, hi in model_runs)
    lines = [f"### {title}", "",
             f"batch 64, {len(runs)} profiled runs: model_run {runs[0]:.1f} ms fastest, {statistics.median(runs):.1f} ms "
             f"median; the nodes' fastest kernel times sum to {total / 1e3:.1f} ms; wall time per run with the "
             f"profiler on {min(wall_ms):.1f} ms fastest", "",
             "| op type | % of kernel time | ms |", "| --- | --- | --- |"]
    lines += [f"| {op} | {100 * us / total:.1f}% | {us / 1e3:.2f} |" for op, us in by_type.most_common()]
    lines += ["", "| top node | % | ms |", "| --- | --- | --- |"]
    top = sorted(fastest.items(), key=lambda item: -item[1])[:5]
    lines += [f"| {node} ({op_of[node]}) | {100 * us / total:.1f}% | {us / 1e3:.2f} |" for node, us in top]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    if args.profile:
        print(profile(args.profile, args.kind or ["plain"], args.runs, args.no_nchwc))
        return
    from gantool.export.zoo import ZOO

    if args.threads:  # before TensorFlow makes its context
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    names = args.models or ["dcgan", *ZOO]
    rows, started = [], time.perf_counter()
    for name in names:
        print(f"{name}:", file=sys.stderr)
        rows.append(calibrate(name, args))
        print(table(rows[-1:]), file=sys.stderr)
        if args.json:  # after every model, so a stopped run keeps what it measured
            args.json.write_text(json.dumps({"environment": environment(), "models": rows}, indent=2))
    print(table(rows))
    clock = "CPU time per run, one thread" if args.clock == "cpu" else "wall time per run"
    print(f"\n{LEGEND} ms: {clock} ({args.threads or 'default'} intra-op threads).\n")
    print(features_table(rows))
    print(f"\n{len(rows)} models in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def environment() -> dict:
    import onnxruntime
    import tensorflow as tf

    return {"onnxruntime": onnxruntime.__version__, "tensorflow": tf.__version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor()}


if __name__ == "__main__":
    main()
