"""Equality filters on a memory's JSON objects (``metadata``, a typed memory's ``data``) as
list-membership tests on the canonical pairs stored beside them (``metadata_pairs``,
``data_pairs``; see :func:`~memvault.stores.graph.dialect.metadata_pairs`), or on their
tokens when the store seals content (:mod:`memvault.stores.graph.sealing`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memvault.stores.graph.dialect import metadata_pair, metadata_pair_prefix
from memvault.stores.graph.sealing import Sealer

__all__ = ["pair_filters"]


def pair_filters(
    prop: str, wanted: Mapping[str, Any], sealer: Sealer | None, tag: str
) -> tuple[list[str], dict[str, Any]]:
    """``WHERE`` conditions on ``m.<prop>`` (a list of pairs; missing on older nodes reads as
    empty) for ``key == value`` each, a ``None`` value meaning the key is absent, and their
    parameters, named ``$f_<tag><i>``."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    pairs = f"coalesce(m.{prop}, [])"
    for i, (key, value) in enumerate(sorted(wanted.items())):
        name = f"f_{tag}{i}"
        if sealer is not None:
            clauses.append(f"NOT ${name} IN {pairs}" if value is None else f"${name} IN {pairs}")
            params[name] = (sealer.key_token(key) if value is None
                            else sealer.token(metadata_pair(key, value)))
        elif value is None:
            clauses.append(f"none(pair IN {pairs} WHERE pair STARTS WITH ${name})")
            params[name] = metadata_pair_prefix(key)
        else:
            clauses.append(f"${name} IN {pairs}")
            params[name] = metadata_pair(key, value)
    return clauses, params
