"""Hypothesis strategies of hostile argument values, shared by the property tests of the MCP
tools and the REST routes.

A value is plain JSON-like data (``None``, booleans, ints, floats, strings, lists, dicts), or a
:class:`Deep` standing for a JSON object nested thousands of levels (built only where it is
used: as a Python object for MCP, as JSON text for REST, since ``json.dumps`` cannot write it).
Strings include lone surrogates, NUL, control characters and very long text; numbers include
NaN, infinities, huge and negative ints; dates include ones that leave years 1-9999 in UTC.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "DEPTHS",
    "ODD_DATES",
    "Deep",
    "dump",
    "hostile",
    "hostile_text",
    "materialize",
    "nested",
    "unknown_fields",
]


@dataclass(frozen=True)
class Deep:
    """A JSON object nested ``depth`` levels: ``{"a": {"a": ... 1}}``."""

    depth: int

    def build(self) -> dict[str, Any]:
        value: Any = 1
        for _ in range(self.depth):
            value = {"a": value}
        result: dict[str, Any] = value
        return result

    def text(self) -> str:
        return '{"a": ' * self.depth + "1" + "}" * self.depth


ODD_DATES = [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-01-01", "10000-01-01",
    "2024-02-30", "2024-13-01", "2024-05-08T25:00:00", "2024-05-08T13:56:00+25:00",
    "yesterday", "", " ", "2024-05-08T13:56:00Z\x00", "1e400", "-0001-01-01", "2024-W19-3",
    "2024-05-08T13:56:00.123456789+02:00", "0001-01-01", "9999-12-31T23:59:59.999999",
]

_SPECIAL_TEXT = [
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "\n", "\r\n", "\t",
    "\u202e", "\ufeff", "\uffff", "\U0010ffff", "café", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "'; DROP TABLE memories; --",
    '"', "\\", "{", "null", "NaN", "-1", "9" * 40, "x" * 20_000, "%00", "../../etc/passwd",
]

_INTS = st.one_of(
    st.integers(min_value=-5, max_value=200),
    st.sampled_from([-1, 0, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)]),
)
_FLOATS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 5.0, 1.5]),
    st.floats(allow_nan=True, allow_infinity=True),
)


def hostile_text() -> st.SearchStrategy[str]:
    """Strings a caller may send: surrogates, NUL, controls, long and ordinary text."""
    return st.one_of(
        st.sampled_from(_SPECIAL_TEXT),
        st.sampled_from(ODD_DATES),
        st.text(st.characters(categories=["Cs", "Cc", "Ll", "Lo", "Zs", "So"]), max_size=12),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
    )


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), _INTS, _FLOATS, hostile_text())


#: Depths of the deep objects: past the 64 levels a value may nest, and far past it.
DEPTHS = (70, 3_000)


def nested(max_leaves: int = 6, depths: tuple[int, ...] = DEPTHS) -> st.SearchStrategy[Any]:
    """JSON-like values of hostile scalars, a few levels deep, or a very deep object."""
    keys = st.one_of(st.sampled_from(["a", "topic", "", "\ud800", "\x00", "k" * 300]),
                     st.text(max_size=5))
    tree = st.recursive(
        _scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(keys, inner, max_size=3)),
        max_leaves=max_leaves,
    )
    return st.one_of(tree, st.sampled_from([Deep(depth) for depth in depths]))


def hostile(depths: tuple[int, ...] = DEPTHS) -> st.SearchStrategy[Any]:
    """Any hostile value for an argument: a wrong type, a bad scalar or a nested value."""
    return st.one_of(_scalars(), nested(depths=depths))


def unknown_fields() -> st.SearchStrategy[dict[str, Any]]:
    """Arguments no operation takes (mostly none)."""
    names = st.sampled_from(["user_id", "extra", "Content", "limit ", "__proto__", "\ud800"])
    return st.one_of(st.just({}), st.dictionaries(names, _scalars(), min_size=1, max_size=2))


def dump(value: Any) -> str:
    """``value`` as JSON text, writing NaN and infinities as ``json.dumps`` does (which the
    server must refuse) and :class:`Deep` values at any depth."""
    if isinstance(value, Deep):
        return value.text()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def materialize(value: Any) -> Any:
    """``value`` as a Python object, :class:`Deep` values built."""
    if isinstance(value, Deep):
        return value.build()
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v) for v in value]
    return value
