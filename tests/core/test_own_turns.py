"""The named speaker's own turns, searched by vector as a ranking of their own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from memvault import Memvault
from memvault.core.search import own_turns
from memvault.core.search.explain import Evidence
from memvault.models import Candidate, MemoryFilter
from memvault.stores.base import Vector
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


class _Store:
    """Only vector search, recording the filters it was given."""

    def __init__(self, found: list[Candidate]) -> None:
        self.found = found
        self.filters: list[MemoryFilter] = []

    async def vector_search(self, where: MemoryFilter, vector: Vector, *,
                            limit: int) -> list[Candidate]:
        self.filters.append(where)
        return self.found[:limit]


def _candidates(pairs: Sequence[tuple[str, float]]) -> list[Candidate]:
    return [Candidate(memory_id=i, score=s) for i, s in pairs]


async def test_the_first_named_speakers_turns_are_searched_by_entity() -> None:
    store = _Store(_candidates([("a", 0.9), ("b", 0.5), ("c", 0.1)]))
    evidence: dict[str, Evidence] = {}
    gains = await own_turns.own_scores(
        store, MemoryFilter(user_id="u", session_id="s"), np.ones(4, dtype=np.float32),
        ["caroline", "melanie"], _candidates([("a", 0.9)]), evidence, pool=3)
    assert [(f.entity, f.session_id) for f in store.filters] == [("caroline", "s")]
    # Rescaled within the full ranking of 3 (c is its floor).
    weight = own_turns.OWN_WEIGHT
    assert gains == {"a": pytest.approx(weight), "b": pytest.approx(weight * 0.5), "c": 0.0}
    assert evidence["b"].cosine == 0.5
    assert "a" not in evidence  # the vector ranking's evidence already has it


async def test_no_ranking_without_a_speaker_or_under_another_entity() -> None:
    store = _Store(_candidates([("a", 0.9)]))
    vector = np.ones(4, dtype=np.float32)
    assert await own_turns.own_scores(
        store, MemoryFilter(user_id="u"), vector, [], [], {}, pool=3) == {}
    assert await own_turns.own_scores(
        store, MemoryFilter(user_id="u", entity="paris"), vector, ["caroline"], [], {},
        pool=3) == {}
    assert store.filters == []


async def test_search_with_own_turns_runs_through_the_pipeline(tmp_path: Path) -> None:
    """The stage's gains reach the hits; the retrievers reported are the same."""
    ranks = []
    for on in (False, True):
        embedder = HashEmbedder()
        config = Memvault.open(tmp_path / f"{on}.db", **{"search.own_turns": on}).config
        async with Memvault(config, embedder=embedder) as mv:
            await mv.wait_until_ready(5)
            await mv.add("Melanie: Caroline, your painting is lovely", session_id="s1")
            await mv.add("Melanie: I paint too, landscapes mostly", session_id="s1")
            await mv.add("Caroline: I paint sunrises over the lake", session_id="s2")
            assert await mv.wait_for_vectors(timeout=10)
            result = await mv.search("What did Caroline paint?")
            assert result.retrievers == ["lexical", "vector"]
            ranks.append({h.memory.content: h.explanation.rank_score for h in result.hits})
    own = "Caroline: I paint sunrises over the lake"
    assert ranks[1][own] > ranks[0][own]
