"""What a loaded model is, for a person: its file, contract, graph, training and evaluation.

Example:
    >>> from gantool.runtime import Generator
    >>> print("\\n".join(describe(Generator.load("g.onnx"))))
"""

from __future__ import annotations

import json

from gantool.runtime.contract import GRAPH_CHOICE_METADATA_KEY, GRAPH_METADATA_KEY


def _metadata(backend) -> dict:
    session = getattr(backend, "session", None)
    if session is None or not hasattr(session, "get_modelmeta"):
        return {}
    return session.get_modelmeta().custom_metadata_map


def graph_kind(backend) -> str:
    """An ONNX model's graph kind (plain, layerwise, optimized, ...+fourier) from its metadata; "" otherwise."""
    return _metadata(backend).get(GRAPH_METADATA_KEY, "")


def graph_choice(backend) -> dict | None:
    """How an ONNX model's graph was chosen among its candidates (export metadata), or None."""
    text = _metadata(backend).get(GRAPH_CHOICE_METADATA_KEY)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def session_rule(backend) -> str:
    """The onnxruntime settings an ONNX file asks for, for a person ("" when none): what, which rule, why."""
    from gantool.runtime.onnx_metadata import session_record

    record = session_record(_metadata(backend))
    if not record:
        return ""
    applied = "applied" if getattr(backend, "settings", None) else "not applied"
    return f"{', '.join(record['disabled_optimizers'])} off, {applied} (rule {record['rule']}: {record['reason']})"


def describe_choice(choice: dict) -> list[str]:
    """A graph choice (``GraphChoice.to_dict()``) as lines: what was chosen, how and why, then one line per
    candidate (its size, its times where it was timed, and why it was not chosen)."""
    how = choice.get("how")
    rule = f"rule {choice['rule']}" if choice.get("rule") and how == "rule" else how
    lines = [f"{choice.get('chosen')} ({rule}: {choice.get('reason', '')})" if choice.get("reason")
             else f"{choice.get('chosen')} ({rule})"]
    timing = choice.get("timing")
    if timing and timing.get("rounds"):
        lines.append(f"  timed here: {timing.get('cpu')}, onnxruntime {timing.get('onnxruntime')}, "
                     f"{timing.get('threads')} threads, {timing.get('rounds')} rounds (fastest counts)")
    for c in choice.get("candidates", []):
        size = f"{c['size_bytes'] / 1e6:.2f} MB" if c.get("size_bytes") else (
            f"~{c['weight_bytes'] / 1e6:.2f} MB of weights" if c.get("weight_bytes") else "")
        times = ", ".join(f"batch {b}: {ms:.3g} ms" for b, ms in (c.get("ms") or {}).items())
        reason = c.get("reason", "") if c.get("kind") != choice.get("chosen") else ""
        details = "; ".join(x for x in (size, times, reason) if x)
        mark = "*" if c.get("kind") == choice.get("chosen") else "-"
        lines.append(f"  {mark} {c.get('kind')}: {c.get('status')}" + (f" ({details})" if details else ""))
    return lines


def describe_fields(generator, recipe: str | None = None) -> list[tuple[str, str]]:
    """``(field, value)`` pairs describing ``generator``'s model; ``recipe`` names the training
    recipe its settings match, when the caller knows one."""
    contract = generator.contract
    low, high = contract.value_range
    labels = f"; {contract.label_name}: (batch,) int32 in 0..{contract.num_classes - 1}" if contract.conditional else ""
    quantization = contract.quantization
    if contract.calibration_size:
        quantization += f" (calibrated on {contract.calibration_size} latents)"
    if contract.float_ops:
        quantization += f"; left in float: {', '.join(contract.float_ops)}"
    fields = [
        ("model", f"{generator.path} ({generator.path.stat().st_size / 1e6:.2f} MB, {generator.backend.name})"),
        ("arch", contract.arch),
        ("input", f"{contract.input_name}: (batch, {contract.latent_dim}) float32{labels}"),
        ("output", f"{contract.output_name}: (batch, {', '.join(map(str, contract.output_shape))}) "
                   f"{contract.output_kind} in [{low:g}, {high:g}]"),
        ("quantization", quantization),
    ]
    if graph := graph_kind(generator.backend):
        choice = graph_choice(generator.backend)
        fields.append(("graph", "\n    ".join(describe_choice(choice)) if choice else graph))
    if session := session_rule(generator.backend):
        fields.append(("onnxruntime", session))
    fields.append(("latents", contract.latent_convention))
    ask = "gantool sample --digit D / --digits 0-9" if contract.classes_are_digits else "gantool sample --label NAME"
    if contract.conditional:
        fields.append(("labels", f"default: numpy.arange(count) % num_classes; {ask}"))
    if contract.digit_code:
        kind = "class" if contract.class_names else "digit"
        fields.append((kind, f"the argmax of z[:, :{contract.digit_code}] names the {kind} drawn; {ask} sets it"))
    if contract.class_names:
        fields.append(("classes", ", ".join(f"{i} {name}" for i, name in enumerate(contract.class_names))))
    fields.append(("data", describe_data(contract)))
    fields.append(("gantool", contract.gantool_version))
    if recipe:
        fields.append(("recipe", f"{recipe} (gantool train --recipe {recipe})"))
    if contract.training:
        fields.append(("training", ", ".join(f"{k}={v}" for k, v in sorted(contract.training.items()) if v is not None)))
    fields += [(f"eval {key}", str(value)) for key, value in sorted(contract.evaluation.items())]
    return fields


def describe_data(contract) -> str:
    """What the model was trained on: the dataset, its classes, and what the training config recorded of
    the data (its settings whose names start with ``data``: the source, its fingerprint)."""
    if contract.class_names:
        classes = f"{len(contract.class_names)} classes"
    elif contract.num_classes or contract.digit_code:
        classes = f"{contract.num_classes or contract.digit_code} digit classes"
    else:
        classes = "" if contract.dataset == "mnist" else "unlabeled"
    recorded = [f"{key} {_data_value(value)}" for key, value in sorted(contract.training.items())
                if key.startswith("data") and value not in (None, "", {})]
    return "; ".join(part for part in (contract.dataset, classes, *recorded) if part)


def _data_value(value) -> str:
    """A recorded data setting; a record of images (a dict) as its source, count and content digest."""
    if not isinstance(value, dict):
        return str(value)
    parts = [str(value["source"])] if value.get("source") else []
    if value.get("count"):
        parts.append(f"{value['count']} images")
    if value.get("content_sha256"):
        parts.append(f"content sha256 {value['content_sha256']}")
    return ", ".join(parts)


def describe(generator, recipe: str | None = None) -> list[str]:
    """:func:`describe_fields` as aligned lines."""
    fields = describe_fields(generator, recipe)
    width = max(len(key) for key, _ in fields)
    return [f"{key:<{width}}  {value}" for key, value in fields]
