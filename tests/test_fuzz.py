"""Parsers of untrusted bytes never crash with anything but their typed error (hypothesis)."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gantool.errors import ContractError, DataError
from gantool.judge.mnist import IMAGE_MAGIC, LABEL_MAGIC, parse_idx
from gantool.runtime.contract import ModelContract

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
CONTRACT_KEYS = ["latent_dim", "image_shape", "value_range", "arch", "quantization", "training", "evaluation"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_contract_from_arbitrary_text(text):
    try:
        ModelContract.from_json(text)
    except ContractError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(CONTRACT_KEYS), JSON_VALUES, max_size=7))
def test_contract_from_arbitrary_json_objects(data):
    try:
        contract = ModelContract.from_json(json.dumps(data))
    except ContractError:
        return
    assert contract.latent_dim > 0 and len(contract.image_shape) == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_idx_from_arbitrary_bytes(blob):
    try:
        array = parse_idx(blob, "fuzz")
    except DataError:
        return
    assert array.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([IMAGE_MAGIC, LABEL_MAGIC]), st.lists(st.integers(0, 5), min_size=1, max_size=3),
       st.integers(-3, 3))
def test_idx_with_valid_magic_and_wrong_lengths(magic, dims, extra):
    ndim = magic & 0xFF
    dims = (dims + [1, 1, 1])[:ndim]
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    size = int(np.prod(dims)) + extra
    blob = header + bytes(max(size, 0))
    try:
        array = parse_idx(blob, "fuzz")
    except DataError:
        assert extra != 0 and size != int(np.prod(dims))
        return
    assert array.shape == tuple(dims)
