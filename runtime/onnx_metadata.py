"""An ONNX file's ``metadata_props`` read from the file itself, before onnxruntime opens it.

The runtime needs one thing from the metadata before it creates a session: the onnxruntime settings
the export's rules wrote for the graph (:data:`~gantool.runtime.contract.SESSION_METADATA_KEY`), which
a session takes only when it is created. onnxruntime reads the metadata only from an open session,
and ``onnx.load`` parses the whole graph (tens of MB for a 64x64 generator), so this reads
ModelProto's top-level fields in protobuf's wire format and seeks past everything else, the graph
included: a handful of small reads whatever the file's size. It is the same reader as the browser's
(``onnxMetadata`` in web/static/contract.js). Hand-written rather than protobuf's own decoder: that
needs ModelProto's generated class, which lives in the ``onnx`` package the light runtime leaves out.
"""

from __future__ import annotations

import io
from pathlib import Path

from gantool.runtime.contract import MAX_METADATA_BYTES, SESSION_METADATA_KEY

# ModelProto.metadata_props: repeated StringStringEntryProto {string key = 1; string value = 2}.
METADATA_FIELD = 14
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class Malformed(ValueError):
    """The bytes are not a protobuf message (onnxruntime will say more when it opens the file)."""


def read_metadata(path: Path) -> dict[str, str]:
    """``{key: value}`` of the ONNX file at ``path``; ``{}`` for a file that is not a readable ONNX model
    (opening it in onnxruntime then reports what is wrong)."""
    try:
        with open(path, "rb") as stream:
            return _metadata(stream, stream.seek(0, io.SEEK_END))
    except (OSError, Malformed):
        return {}


def session_record(metadata: dict[str, str]) -> dict:
    """The onnxruntime settings an ONNX file's ``metadata`` names (:data:`SESSION_METADATA_KEY`):
    ``{"disabled_optimizers": [names], "rule": ..., "reason": ...}``, or ``{}`` where there are none or the
    entry is malformed. The one reader of that entry: the runtime, ``gantool info`` and the export use it."""
    import json

    try:
        record = json.loads(metadata.get(SESSION_METADATA_KEY) or "{}")
    except ValueError:
        return {}
    names = record.get("disabled_optimizers") if isinstance(record, dict) else None
    if not names or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return {}
    return {"disabled_optimizers": names, "rule": str(record.get("rule", "")), "reason": str(record.get("reason", ""))}


def _metadata(stream, size: int) -> dict[str, str]:
    props: dict[str, str] = {}
    stream.seek(0)
    while stream.tell() < size:
        field, wire = divmod(_varint(stream), 8)
        if field == METADATA_FIELD and wire == _LENGTH:
            length = _varint(stream)
            if length > MAX_METADATA_BYTES or stream.tell() + length > size:
                raise Malformed("metadata entry out of bounds")
            key, value = _entry(stream.read(length))
            if key is not None:
                props[key] = value
            continue
        _skip(stream, wire, size)
    return props


def _entry(data: bytes) -> tuple[str | None, str]:
    """A StringStringEntryProto's key and value."""
    stream, found = io.BytesIO(data), {}
    while stream.tell() < len(data):
        field, wire = divmod(_varint(stream), 8)
        if wire == _LENGTH and field in (1, 2):
            length = _varint(stream)
            if stream.tell() + length > len(data):
                raise Malformed("metadata string out of bounds")
            found[field] = stream.read(length).decode("utf-8", errors="replace")
        else:
            _skip(stream, wire, len(data))
    return found.get(1), found.get(2, "")


def _varint(stream) -> int:
    value = shift = 0
    while True:
        byte = stream.read(1)
        if not byte or shift > 63:
            raise Malformed("truncated varint")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7


def _skip(stream, wire: int, size: int) -> None:
    if wire == _VARINT:
        _varint(stream)
        return
    step = {_FIXED64: 8, _FIXED32: 4}.get(wire)
    if step is None:
        if wire != _LENGTH:
            raise Malformed(f"wire type {wire}")
        step = _varint(stream)
    if stream.tell() + step > size:
        raise Malformed("field out of bounds")
    stream.seek(step, io.SEEK_CUR)
