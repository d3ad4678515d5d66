"""What a loaded model is, for a person: its file, contract, graph, training and evaluation.

Example:
    >>> from gantool.runtime import Generator
    >>> print("\\n".join(describe(Generator.load("g.onnx"))))
"""

from __future__ import annotations

from gantool.runtime.contract import GRAPH_METADATA_KEY


def graph_kind(backend) -> str:
    """An ONNX model's graph kind (plain, optimized, optimized+fourier) from its metadata; "" otherwise."""
    session = getattr(backend, "session", None)
    if session is None or not hasattr(session, "get_modelmeta"):
        return ""
    return session.get_modelmeta().custom_metadata_map.get(GRAPH_METADATA_KEY, "")


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
        fields.append(("graph", graph))
    fields.append(("latents", contract.latent_convention))
    if contract.conditional:
        fields.append(("labels", "default: numpy.arange(count) % num_classes; gantool sample --digit D / --digits 0-9"))
    if contract.digit_code:
        fields.append(("digit", f"the argmax of z[:, :{contract.digit_code}] names the digit drawn; "
                                "gantool sample --digit D / --digits 0-9 sets it"))
    fields.append(("gantool", contract.gantool_version))
    if recipe:
        fields.append(("recipe", f"{recipe} (gantool train --recipe {recipe})"))
    if contract.training:
        fields.append(("training", ", ".join(f"{k}={v}" for k, v in sorted(contract.training.items()) if v is not None)))
    fields += [(f"eval {key}", str(value)) for key, value in sorted(contract.evaluation.items())]
    return fields


def describe(generator, recipe: str | None = None) -> list[str]:
    """:func:`describe_fields` as aligned lines."""
    fields = describe_fields(generator, recipe)
    width = max(len(key) for key, _ in fields)
    return [f"{key:<{width}}  {value}" for key, value in fields]
