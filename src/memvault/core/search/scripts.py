"""Which memories a query's words can reach at all, by script.

Full-text search finds a memory only through words the two share, so a query in Chinese
cannot match a memory written only in English, nor an English query one written only in
Chinese: the lexical ranking holds nothing for them, and after fusion they trail every
memory of the query's own script that shares a single character with it, however well
they match by meaning. :func:`unreached` names them; the retrieval lets their vector
score stand in for the lexical one (:func:`memvault.core.search.fusion.stand_in`), so
that the meaning alone ranks them against the others.

Scripts fall in two classes: CJK (Han, Kana, Hangul; unspaced) and spaced (any other
letter or digit). A memory is out of reach when it has no character of a class the
query's terms have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from memvault.analysis import has_cjk, mask_cjk
from memvault.models import Memory

__all__ = ["classes", "unreached"]

Class = Literal["cjk", "spaced"]


def classes(text: str) -> frozenset[Class]:
    """The script classes ``text`` has characters of."""
    found: set[Class] = set()
    if has_cjk(text):
        found.add("cjk")
    if any(c.isalnum() for c in mask_cjk(text, " ")):
        found.add("spaced")
    return frozenset(found)


def unreached(query_terms: Iterable[str], memories: Mapping[str, Memory]) -> set[str]:
    """The ids of ``memories`` that share no script class with ``query_terms``."""
    wanted: set[Class] = set()
    for term in query_terms:
        wanted |= classes(term)
    if not wanted:
        return set()
    return {memory_id for memory_id, memory in memories.items()
            if not wanted & classes(memory.content)}
