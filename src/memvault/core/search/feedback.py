"""Pseudo-relevance feedback: the words the best first hits share, searched for again.

A question seldom uses the words of its answer ("what martial arts has John done?" /
"I'm doing kickboxing"), but the best first hits of a search usually share words with the
other memories about the same thing. The terms that at least :data:`MIN_SHARED` of the top
:data:`FEEDBACK_DEPTH` hits have in common, and that the query lacks, are added to the
query's terms for a second lexical search; its ranking joins fusion with
:data:`FEEDBACK_WEIGHT` (a helper, not a retriever of its own standing). Speaker labels and
the names of speakers are left out: every turn of a speaker shares them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from memvault.core.text.speakers import body_text
from memvault.core.text.terms import terms
from memvault.models import Candidate, Memory, MemoryFilter
from memvault.stores.base import EpisodicStore

__all__ = ["FEEDBACK_DEPTH", "FEEDBACK_TERMS", "FEEDBACK_WEIGHT", "MIN_SHARED",
           "expansion_terms", "feedback_ranking"]

#: How many of the best first hits are read.
FEEDBACK_DEPTH = 5
#: In how many of them a term must appear.
MIN_SHARED = 2
#: The most terms added.
FEEDBACK_TERMS = 5
#: The weight of the second lexical ranking in fusion (the first rankings weigh 1).
FEEDBACK_WEIGHT = 0.5


def expansion_terms(query_terms: Collection[str], top: Sequence[Memory],
                    skip: Collection[str] = ()) -> list[str]:
    """The terms to add to ``query_terms``: shared by at least :data:`MIN_SHARED` of
    ``top`` (best first), not in the query nor in ``skip`` (names), at least three letters,
    most shared first (ties: the better hit's first), at most :data:`FEEDBACK_TERMS`."""
    known = set(query_terms) | {word for name in skip for word in terms(name)}
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for memory in top[:FEEDBACK_DEPTH]:
        for position, term in enumerate(terms(body_text(memory.content))):
            if term in known or len(term) < 3 or term.isdigit():
                continue
            counts[term] += 1
            first.setdefault(term, len(first) + position)
    shared = [t for t, n in counts.items() if n >= MIN_SHARED]
    shared.sort(key=lambda t: (-counts[t], first[t]))
    return shared[:FEEDBACK_TERMS]


async def feedback_ranking(
    store: EpisodicStore, where: MemoryFilter, query_terms: Sequence[str],
    fused: Mapping[str, float], skip: Collection[str], *, pool: int,
) -> tuple[list[Candidate], list[str]]:
    """The second lexical ranking for the best of ``fused`` (memory id → fused score), and
    the terms it added (``[]``, and no ranking, when the first hits share none)."""
    best = sorted(fused, key=lambda memory_id: -fused[memory_id])[:FEEDBACK_DEPTH]
    by_id = {m.id: m for m in await store.get(where.user_id, best)}
    top = [by_id[memory_id] for memory_id in best if memory_id in by_id]
    added = expansion_terms(query_terms, top, skip)
    if not added:
        return [], []
    return await store.lexical_search(where, [*query_terms, *added], limit=pool), added
