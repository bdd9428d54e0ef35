"""Timeline: a memory takes a share of the scores of its neighbours in the same session.

The weights are round numbers chosen for what they mean, each measured on its own (see
``docs/benchmarks.md``), not fitted to one data set.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from memvault.stores.base import EpisodicStore

__all__ = ["FOLLOWS_WEIGHT", "PRECEDES_WEIGHT", "neighbours", "spread"]

#: A turn inherits this share of the score of the turn before it: an answer follows the
#: question that matched ("What did you research?" / "Adoption agencies.").
FOLLOWS_WEIGHT = 0.5
#: ... and this share of the score of the turn after it (a turn set up what followed).
PRECEDES_WEIGHT = 0.25

async def neighbours(
    store: EpisodicStore, user_id: str, ids: Collection[str],
    known: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> dict[str, tuple[str | None, str | None]]:
    """The adjacency :func:`spread` needs for the candidates ``ids``: their own links, and
    for each neighbour that is not a candidate, its link back to the candidate. ``known``
    holds links already read (``store.adjacent`` of some of them); the rest are read.

    A neighbour's other neighbour is not a candidate, so it would score 0: its link is left
    out rather than read from the store.
    """
    known = known or {}
    links = {i: known[i] for i in ids if i in known}
    missing = [i for i in ids if i not in known]
    if missing:
        links.update(await store.adjacent(user_id, missing))
    adjacent: dict[str, tuple[str | None, str | None]] = dict(links)
    for memory_id, (previous, following) in links.items():
        if previous is not None and previous not in links:
            before = adjacent.get(previous, (None, None))
            adjacent[previous] = (before[0], memory_id)
        if following is not None and following not in links:
            after = adjacent.get(following, (None, None))
            adjacent[following] = (memory_id, after[1])
    return adjacent


def spread(
    scores: Mapping[str, float], adjacent: Mapping[str, tuple[str | None, str | None]]
) -> dict[str, float]:
    """Add to each memory a share of the scores of its neighbours in the same session.

    ``adjacent`` maps ids to ``(previous, next)``; it should cover every scored memory and
    their neighbours (as :func:`neighbours` does), so that a turn right after a strong match
    is scored even when no retriever found it.
    """
    result: dict[str, float] = {}
    for memory_id in {*scores, *adjacent}:
        previous, following = adjacent.get(memory_id, (None, None))
        result[memory_id] = (
            scores.get(memory_id, 0.0)
            + FOLLOWS_WEIGHT * scores.get(previous or "", 0.0)
            + PRECEDES_WEIGHT * scores.get(following or "", 0.0)
        )
    return result
