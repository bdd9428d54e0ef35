"""Retrieval: the episodic memories that best match a query, with their scores.

1. **Lexical**: the store's full-text search over the query's terms (BM25 or the backend's
   equivalent), best :data:`POOL` memories.
2. **Speakers**: the speaker labels of those memories (see
   :mod:`memvault.core.text.speakers`) that the query names.
3. **Vector**: the query, with named speakers replaced by a pronoun, embedded and searched;
   a memory scores by its best vector (the whole memory or one of its passages). The
   embedding starts before stage 1, on a guess at the speakers named, and runs while
   stages 1 and 2 read the store, and stage 5 the links and memories of the lexical
   candidates (:mod:`memvault.core.search.early`).
4. **Fusion**: each ranking's scores rescaled to [0, 1] and summed
   (:func:`memvault.core.search.fusion.fuse`); with ``own_turns`` (off by default), a named
   speaker's own vector ranking is added at a lower weight
   (:mod:`memvault.core.search.own_turns`).
5. **Timeline**: each memory takes a share of its session neighbours' scores, and the
   neighbours of every candidate join the candidates
   (:mod:`memvault.core.search.timeline`). Neighbours must pass the same filter.
6. **Speaker preference**: turns spoken by a named speaker get :data:`SPEAKER_BOOST`; turns
   of the role a question addresses ("what did *I* say", "what did *you* recommend") get
   :data:`ROLE_BOOST` (:mod:`memvault.core.text.roles`).
7. **Session prior**: each memory gains a share of its session's best score
   (:mod:`memvault.core.search.sessions`).
8. **Time**: the newest (or oldest) of the statements that answer a question about the
   present (or the past) comes first, and memories of a time the question names are
   preferred (:mod:`memvault.core.search.recency`).

Stages 6 to 8 (and the optional feedback and diversity stages,
:mod:`memvault.core.search.feedback`, :mod:`memvault.core.search.diversity`) record what they
add to each memory in :attr:`Ranked.adjustments`.

Along the way each candidate's :class:`~memvault.core.search.explain.Evidence` records what
the stages saw (cosine similarity, best passage, the match a neighbour came in with, the
speaker preferred), for the hits' explanations.

Without an embedder (or before it is ready), or while the store builds the user's vector
index, stage 3 is skipped and the rest still runs.
:class:`memvault.config.SearchConfig` switches stages off, to measure them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from memvault.config import SearchConfig
from memvault.core.embedding import EmbeddingService
from memvault.core.search import recency
from memvault.core.search.diversity import diversify
from memvault.core.search.early import KnownSpeakers, background
from memvault.core.search.explain import Evidence, gather, neighbours_of
from memvault.core.search.feedback import FEEDBACK_WEIGHT, feedback_ranking
from memvault.core.search.fusion import fuse, fuse_ranks, stand_in
from memvault.core.search.own_turns import own_scores
from memvault.core.search.scripts import unreached
from memvault.core.search.sessions import session_prior
from memvault.core.search.timeline import neighbours, spread
from memvault.core.text.roles import role_of, roles_addressed
from memvault.core.text.speakers import mask_speakers, speaker_of, speakers_in, speakers_named
from memvault.embedders.base import Matrix
from memvault.errors import IndexBuilding
from memvault.models import Candidate, Memory, MemoryFilter
from memvault.stores.base import EpisodicStore

__all__ = ["POOL", "ROLE_BOOST", "SPEAKER_BOOST", "Ranked", "retrieve"]

#: How many memories each retriever contributes before fusion.
POOL = 50
#: Added to the turns of a speaker the query names: their own words come before the turns
#: that only mention them. Fused scores lie in [0, 2], so this is a strong preference.
SPEAKER_BOOST = 1.0
#: Added to the turns of the role a question addresses: half a named speaker's preference,
#: since a user's question is often answered by the assistant's reply, and the other way.
ROLE_BOOST = 0.5

_DEFAULTS = SearchConfig()


@dataclass(frozen=True)
class Ranked:
    """The memories with their fused scores, best first; the retrievers that ran; what the
    stages learnt about each memory, by id."""

    memories: list[tuple[Memory, float]]
    retrievers: list[str]
    evidence: dict[str, Evidence] = field(default_factory=dict)
    #: What the stages after the timeline added to a memory's score: stage ("speaker",
    #: "role", "recency")
    #: → memory id → amount.
    adjustments: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Why the vectors were not searched although the query was embedded (the store's
    #: index is being built), for :attr:`~memvault.models.SearchResult.pending`.
    pending: str | None = None


async def retrieve(
    store: EpisodicStore,
    embedding: EmbeddingService,
    query: str,
    query_terms: Sequence[str],
    where: MemoryFilter,
    *,
    limit: int,
    exclude: Collection[str] = (),
    settings: SearchConfig = _DEFAULTS,
    known: KnownSpeakers | None = None,
) -> Ranked:
    """The best ``limit`` memories for ``query`` under ``where``, with their scores.

    ``query_terms`` are the query's lexical terms (:func:`memvault.core.text.terms.terms`);
    ``exclude`` lists ids the caller already has (they are neither returned nor counted).
    ``known`` holds the speaker labels of earlier searches: the query's embedding then
    starts before the lexical stage, on a guess at the speakers it names
    (:mod:`memvault.core.search.early`); the result is the same either way.
    """
    user = where.user_id
    pool = max(POOL, limit * 2)
    rankings = []
    retrievers = []
    fetched: dict[str, Memory] = {}

    guess = query
    if settings.speakers and known is not None:
        guess = mask_speakers(query, speakers_named(query, known.of(user)))
    links: dict[str, tuple[str | None, str | None]] = {}
    labels: set[str] = set()

    building: list[str] = []

    async def vector_stage(text: str) -> tuple[Matrix | None, list[Candidate]]:
        vectors = await embedding.embed([text])
        if vectors is None:
            return None, []
        try:
            return vectors, await store.vector_search(where, vectors[0], limit=pool)
        except IndexBuilding as exc:
            building.append(f"the vector index is being built ({exc.done:,} of "
                            f"{exc.total:,} vectors); this search is lexical")
            return None, []

    async with background(lambda: vector_stage(guess)) as early:
        if query_terms:
            lexical = await store.lexical_search(where, query_terms, limit=pool)
            rankings.append(lexical)
            retrievers.append("lexical")
            ids = [c.memory_id for c in lexical]
            if settings.speakers:  # their labels say which speakers the query may name
                await _fetch(store, user, ids, fetched)
                # Opening labels only: a later line's "Price:" or "Monday:" is no one a
                # query names (it would be masked out of the embedded query).
                labels = {s for i in ids if i in fetched
                          and (s := speaker_of(fetched[i].content)) is not None}
            if settings.timeline:  # every lexical candidate is fused: read ahead meanwhile
                links = await store.adjacent(user, ids)
                await _fetch(store, user, [*ids, *(n for pair in links.values()
                                                    for n in pair if n is not None)], fetched)
    named: list[str] = []
    if settings.speakers:
        named = speakers_named(query, labels)
        if known is not None:
            known.learn(user, labels)

    masked = mask_speakers(query, named)
    vectors, vector_ranking = early.value() if masked == guess else await vector_stage(masked)
    if vectors is not None:
        rankings.append(vector_ranking)
        retrievers.append("vector")
    pending = building[-1] if building and vectors is None else None
    if not rankings:
        return Ranked([], retrievers, pending=pending)
    evidence = gather(rankings, retrievers)

    fused = fuse(rankings, pool=pool) if settings.fusion == "score" else fuse_ranks(rankings)
    if vectors is not None and named and settings.own_turns and settings.fusion == "score":
        own = await own_scores(store, where, vectors[0], named, vector_ranking, evidence,
                               pool=pool)
        for memory_id, gain in own.items():
            fused[memory_id] = fused.get(memory_id, 0.0) + gain
    if settings.feedback and query_terms:
        extra, _ = await feedback_ranking(store, where, query_terms, fused, named, pool=pool)
        if extra:
            weights = [1.0] * len(rankings) + [FEEDBACK_WEIGHT]
            rankings.append(extra)
            fused = (fuse(rankings, weights, pool=pool) if settings.fusion == "score"
                     else fuse_ranks(rankings))
    if query_terms and vector_ranking and settings.fusion == "score":
        vector_ids = [c.memory_id for c in vector_ranking]
        await _fetch(store, user, vector_ids, fetched)
        reached = {i: fetched[i] for i in vector_ids if i in fetched}
        fused = stand_in(fused, vector_ranking, unreached(query_terms, reached), pool=pool)
    found = set(fused)
    adjacent = await neighbours(store, user, found, links) if settings.timeline else {}
    scores = spread(fused, adjacent)
    neighbours_of(fused, adjacent, evidence)

    await _fetch(store, user, list(scores), fetched)
    addressed = roles_addressed(query)
    role = addressed[0] if settings.roles and addressed else None
    adjustments: dict[str, dict[str, float]] = {}
    ranked: list[tuple[Memory, float]] = []
    for memory_id, score in scores.items():
        memory = fetched.get(memory_id)
        if memory is None or memory_id in exclude:
            continue
        if memory_id not in found and not where.admits(memory):
            continue  # reached through the timeline, so the store did not filter it
        spoken = speakers_in(memory.content) if named or role else frozenset()
        if (label := next((s for s in named if s in spoken), None)) is not None:
            score += SPEAKER_BOOST
            adjustments.setdefault("speaker", {})[memory_id] = SPEAKER_BOOST
            evidence.setdefault(memory_id, Evidence()).speaker = label
        elif role is not None and (label := min(
                (s for s in spoken if role_of(s) == role), default=None)) is not None:
            score += ROLE_BOOST
            adjustments.setdefault("role", {})[memory_id] = ROLE_BOOST
            evidence.setdefault(memory_id, Evidence()).speaker = label
        ranked.append((memory, score))
    ranked.sort(key=lambda pair: (-pair[1], pair[0].occurred_at, pair[0].id))
    if settings.session_prior:
        gains = session_prior(ranked)
        ranked = recency.apply(ranked, gains)
        adjustments["session"] = gains
    if settings.recency:
        # The tense alone tells only in a question a party asks of its own chat ("where do I
        # live?"); a narrated one ("what is Caroline's job?") is as often about a habit.
        tense = settings.recency_tense and bool(addressed)
        gains = recency.adjust(recency.time_scope(query, tense=tense), ranked)
        if gains:
            ranked = recency.apply(ranked, gains)
            adjustments["recency"] = gains
    if settings.diversity:
        ranked, lost = diversify(ranked, limit)
        if lost:
            adjustments["diversity"] = {memory_id: -amount for memory_id, amount in lost.items()}
    kept = ranked[:limit]
    _record(adjustments, evidence, {m.id for m, _ in kept})
    return Ranked(kept, retrievers, {m.id: evidence[m.id] for m, _ in kept if m.id in evidence},
                  adjustments, pending)


def _record(adjustments: dict[str, dict[str, float]], evidence: dict[str, Evidence],
            kept: set[str]) -> None:
    """The stages' score adjustments of the kept memories, in their evidence: recency in its
    own field, the others (session prior, diversity) under ``stages``."""
    for stage, amounts in adjustments.items():
        if stage in ("speaker", "role"):
            continue  # the speaker field already says so
        for memory_id, amount in amounts.items():
            if memory_id not in kept or not amount:
                continue
            found = evidence.setdefault(memory_id, Evidence())
            if stage == "recency":
                found.recency = round(amount, 6)
            else:
                found.stages[stage] = round(amount, 6)


async def _fetch(
    store: EpisodicStore, user: str, ids: Sequence[str], into: dict[str, Memory]
) -> None:
    wanted = [i for i in ids if i not in into]
    if wanted:
        for memory in await store.get(user, wanted):
            into[memory.id] = memory
