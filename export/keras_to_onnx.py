"""Keras generator -> ONNX through tf2onnx, validated right after writing.

``tf2onnx.convert.from_keras`` fails on Keras 3 models, so the model is
wrapped in a ``tf.function`` with an input signature and converted with
``from_function``. The graph gets input ``z``, output ``image``, a dynamic
batch axis named ``batch``, explicit ConvTranspose pads, and the model
contract in ``metadata_props``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gantool.errors import ExportValidationError, GantoolError, first_line
from gantool.export import canonical
from gantool.export.onnx_graph import rename_io
from gantool.export.registry import DEFAULT_OPSET, FP32
from gantool.export.validate import ExportResult, Parity, check_parity, reference_batches
from gantool.runtime.contract import GRAPH_METADATA_KEY, METADATA_KEY, SESSION_METADATA_KEY, ModelContract
from gantool.runtime.files import atomic_path

MAX_OPSET = 18
T = TypeVar("T")


def to_onnx_proto(keras_model, contract: ModelContract, opset: int = DEFAULT_OPSET, graph: str = "plain"):
    """Convert ``keras_model`` to an ``onnx.ModelProto`` of graph kind ``graph`` carrying ``contract``.

    ``plain`` is tf2onnx's graph; the other kinds of :data:`gantool.export.graph_rules.GRAPH_KINDS`
    are its rewrites (:func:`gantool.export.graph_rules.build`). Metadata ``gantool.graph`` says
    which kind the graph is (a ``+fourier`` kind whose DFT layer found no match says its base kind).

    Raises:
        GantoolError: ``opset`` out of range or ``graph`` not a kind.
        UnsupportedFormatError: the rewrite ``graph`` names does not apply to this model.
    """
    from gantool.export.graph_rules import GRAPH_KINDS, build

    if not 13 <= opset <= MAX_OPSET:
        raise GantoolError(f"`opset` must be between 13 and {MAX_OPSET}, got {opset}")
    if graph not in GRAPH_KINDS:
        raise GantoolError(f"`graph` must be one of {', '.join(GRAPH_KINDS)}, got {graph!r}")
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec((None, contract.latent_dim), tf.float32, name=contract.input_name)]
    if contract.conditional:
        signature.append(tf.TensorSpec((None,), tf.int32, name=contract.label_name))

        @tf.function(input_signature=signature)
        def generate(z, label):
            return {contract.output_name: keras_model([z, label], training=False)}
    else:
        @tf.function(input_signature=signature)
        def generate(z):
            return {contract.output_name: keras_model(z, training=False)}

    proto, _ = tf2onnx.convert.from_function(generate, input_signature=signature, opset=opset)
    _name_io(proto, contract)
    _check_explicit_pads(proto)
    return finish_graph(build(proto, graph), contract, graph)


def finish_graph(proto, contract: ModelContract, base: str):
    """Stamp ``proto`` (built as graph kind ``base``) with its kind and ``contract``; returns it.

    The DFT rewrite applies only where its pattern matches, so the kind gets ``+fourier`` only where it did.
    """
    from gantool.export.fourier_conv import has_dft_layer

    base = base.removesuffix("+fourier")
    _set_graph_kind(proto, f"{base}+fourier" if base != "plain" and has_dft_layer(proto) else base)
    set_session_settings(proto)
    attach_contract(proto, contract)
    return proto


def session_record(proto) -> dict | None:
    """The onnxruntime settings ``proto``'s metadata asks for (:func:`set_session_settings`), or None."""
    from gantool.runtime.onnx_metadata import session_record as read_record

    return read_record({p.key: p.value for p in proto.metadata_props}) or None


def set_session_settings(proto) -> None:
    """Write the onnxruntime settings :data:`~gantool.export.graph_rules.SESSION_RULES` choose for ``proto``'s
    graph into its metadata (the runtime applies them on opening the file), or remove a stale entry."""
    from gantool.export.graph_rules import session_settings

    settings = session_settings(proto)
    canonical.set_metadata(proto, {SESSION_METADATA_KEY: json.dumps(settings, sort_keys=True) if settings else None})


def graph_kind(proto) -> str:
    """The graph kind :func:`to_onnx_proto` recorded in ``proto``'s metadata ("" when none)."""
    return {p.key: p.value for p in proto.metadata_props}.get(GRAPH_METADATA_KEY, "")


def _set_graph_kind(proto, kind: str) -> None:
    """Record in metadata whether the graph was rewritten for speed (``optimized``, ``optimized+fourier``) or not (``plain``)."""
    canonical.set_metadata(proto, {GRAPH_METADATA_KEY: kind})


def _name_io(proto, contract: ModelContract) -> None:
    """Name the graph's inputs ``z`` (+ ``label``) and its one output ``image``, each with a ``batch`` axis."""
    graph = proto.graph
    names = [contract.input_name] + ([contract.label_name] if contract.conditional else [])
    if len(graph.input) != len(names) or len(graph.output) != 1:
        raise GantoolError(f"expected {len(names)} input(s) and one output, got {len(graph.input)} and {len(graph.output)}")
    # tf2onnx keeps the signature's order and names inputs after it (e.g. "z:0", "label:0").
    renames = {value.name: name for value, name in zip(graph.input, names, strict=False)}
    renames[graph.output[0].name] = contract.output_name
    rename_io(proto, renames)


def _check_explicit_pads(proto) -> None:
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.name == "auto_pad" and attr.s.decode() not in ("NOTSET", "VALID"):
                raise GantoolError(f"{node.op_type} {node.name} uses auto_pad={attr.s.decode()}; expected explicit pads")


def attach_contract(proto, contract: ModelContract) -> None:
    """Write the contract (and the gantool version) into ``metadata_props``."""
    canonical.set_metadata(proto, {METADATA_KEY: contract.to_json(), "gantool.version": contract.gantool_version})
    proto.producer_name = "gantool"


def onnx_runner(path: Path):
    """A function running the ONNX file at ``path`` in onnxruntime (as the runtime will)."""
    from gantool.runtime.backends.onnx_backend import OnnxBackend

    return OnnxBackend(path).run


def write_checked(proto, out: Path, check: Callable[[Path], T], what: str = "export") -> T:
    """Save ``proto`` beside ``out``, run the full ONNX checker and ``check(tmp_path)``; rename on success.

    The file appears at ``out`` only if every check passed; ``check`` raises to refuse it.

    Raises:
        ExportValidationError: the checker rejected the graph (or ``check`` did).
    """

    with atomic_path(out) as tmp:
        canonical.save(proto, tmp)
        check_graph(tmp, what)
        result = check(tmp)
    return result


def check_graph(path: Path, what: str = "export") -> None:
    """The full ONNX checker on the file at ``path``.

    Raises:
        ExportValidationError: the checker rejected the graph.
    """
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportValidationError(f"onnx checker rejected the {what}: {first_line(exc)}") from None


def save_validated(proto, keras_model, contract: ModelContract, out: Path,
                   max_abs: float = FP32.max_abs, mean_abs: float | None = None) -> Parity:
    """Write ``proto`` atomically after the ONNX checker and a parity check through the runtime pass.

    Raises:
        ExportValidationError: the checker rejected the graph or parity failed.
    """
    return write_checked(proto, out, lambda tmp: check_parity(
        keras_model, onnx_runner(tmp), contract.latent_dim, contract.value_range, max_abs, mean_abs,
        num_classes=contract.num_classes))


def export_onnx(keras_model, contract: ModelContract, out: Path, opset: int = DEFAULT_OPSET,
                graph: str = "auto") -> ExportResult:
    """Export ``keras_model`` to ``out`` as ``gantool export --format onnx`` does (the graph ``graph`` names:
    the rules' choice by default), held to the float32 bound; the file appears only if every check passed.

    Raises:
        ExportValidationError: the checker rejected the graph or parity failed.
    """
    from gantool.export.registry import ExportOptions, lookup

    return convert(keras_model, contract, Path(out), lookup("onnx", "none"), ExportOptions(opset=opset, graph=graph))


def convert(keras_model, contract: ModelContract, out: Path, entry, options) -> ExportResult:
    """Registry converter for ``onnx/none`` (see :mod:`gantool.export.registry`): the graph the rules name
    (``options.graph`` auto), a forced kind, or the fastest here (``fastest-here``), built and checked by
    :func:`gantool.export.graph_choice.choose_graph`; the choice (without measurements) is stored in the file."""
    import shutil
    import tempfile

    import onnx

    from gantool.export.graph_choice import choose_graph, graph_file, store_choice

    contract = contract.replace(quantization="none", calibration_size=0)
    plain = to_onnx_proto(keras_model, contract, options.opset)

    reference = reference_batches(keras_model, contract.latent_dim, num_classes=contract.num_classes)

    def check(path: Path) -> Parity:  # every candidate against one float64 reference
        check_graph(path)
        return check_parity(keras_model, onnx_runner(path), contract.latent_dim, contract.value_range,
                            entry.tolerance.max_abs, entry.tolerance.mean_abs, num_classes=contract.num_classes,
                            reference=reference)

    scratch = Path(tempfile.mkdtemp(prefix=".gantool-graphs-", dir=out.parent))
    try:
        chosen, choice, parity = choose_graph(plain, lambda proto, kind: finish_graph(proto, contract, kind),
                                              check, scratch, options.graph, options.keep_graphs, options.log)
        proto = onnx.load(chosen)
        store_choice(proto, choice)
        with atomic_path(out) as tmp:
            canonical.save(proto, tmp)
        if options.keep_graphs:
            for candidate in choice.candidates:
                if candidate.path is not None and candidate.path.is_file() and candidate.path != chosen:
                    os.replace(candidate.path, graph_file(out, candidate.kind))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(out, parity, graph=choice.chosen, graph_choice=choice.to_dict(), session=session_record(proto))
