"""Stored JSON reads as :func:`memvault.stores.codec.clean_json` would clean it, on the fast
path for plain JSON and on the slow one alike."""

from __future__ import annotations

import json
import math

import pytest

from memvault.stores.codec import READ_DEPTH, clean_json, load_json

PLAIN = ['{"dia_id": "D1:1"}', '["caroline", "mel"]', '{"a": [1, 2.5, true, null]}',
         '{"ü": "çà"}', "3", '"text"']
HOSTILE = ['{"x": NaN}', '[Infinity, -Infinity]', '{"big": 1e999}', '"\\ud800"',
           '{"\\udfff": 1}', "[" * (READ_DEPTH + 5) + "]" * (READ_DEPTH + 5),
           '{"a": "\\u00e9"}', "\ud800"]


@pytest.mark.parametrize("raw", PLAIN + HOSTILE)
def test_load_json_is_clean_json_of_the_parse(raw: str) -> None:
    try:
        expected = clean_json(json.loads(raw))
    except ValueError:
        expected = "default"
    assert load_json(raw, "default") == expected


def test_non_finite_numbers_read_as_null() -> None:
    assert load_json('{"x": NaN, "y": 1e999, "z": 1.5}', None) == {"x": None, "y": None,
                                                                   "z": 1.5}
    assert not any(isinstance(v, float) and not math.isfinite(v)
                   for v in load_json("[Infinity, -Infinity, 2.0]", []))


def test_too_deep_is_null_below_the_depth() -> None:
    deep = "[" * (READ_DEPTH + 1) + "]" * (READ_DEPTH + 1)
    value = load_json(deep, None)
    for _ in range(READ_DEPTH - 1):
        value = value[0]
    assert value == [None]
