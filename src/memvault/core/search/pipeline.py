"""A search from arguments to result: validate → working → retrieve → explain → context →
budget.

1. **Validate**: :class:`Request` holds the checked arguments (:func:`check_query`,
   :func:`check_context`; the identity and the filter are checked by the caller).
2. **Working**: the caller's session's recent turns that share a term with the query come
   first (:mod:`memvault.core.search.working`).
3. **Retrieve**: episodic memories fill the rest of the limit
   (:mod:`memvault.core.search.retrieve`), after a short wait for the vectors of a few
   memories just added; behind a longer backlog the search goes on at once, and its
   ``pending`` says how many of the user's memories were found by their words only.
4. **Explain**: each hit gets its :class:`~memvault.models.Explanation` and its absolute
   score (:mod:`memvault.core.search.explain`); hits under ``min_score`` are dropped.
5. **Context**: each hit gets its neighbouring turns, when asked for.
6. **Budget**: every hit is kept; long ones are shortened to query-focused excerpts to fit
   the character budget (:mod:`memvault.core.search.budget`).

The query's terms are computed once, here, for both working memory and retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memvault.config import SearchConfig
from memvault.core.embedding import EmbeddingService
from memvault.core.search.budget import apply_budget
from memvault.core.search.early import KnownSpeakers
from memvault.core.search.explain import Evidence, explanation
from memvault.core.search.retrieve import Ranked, retrieve
from memvault.core.search.working import working_hits
from memvault.core.text.terms import terms
from memvault.core.validate import check_text
from memvault.errors import InvalidInput
from memvault.models import MemoryFilter, SearchHit, SearchResult
from memvault.stores.base import EpisodicStore, WorkingStore

__all__ = [
    "LOADING_NOTE",
    "MAX_CONTEXT",
    "MAX_QUERY_CHARS",
    "VECTOR_WAIT_MEMORIES",
    "VECTOR_WAIT_SECONDS",
    "Request",
    "Sources",
    "backlog_note",
    "check_context",
    "check_min_score",
    "check_query",
    "run",
]

#: The longest query accepted, in characters.
MAX_QUERY_CHARS = 10_000
#: The most neighbouring turns a hit can carry on each side.
MAX_CONTEXT = 5
#: How long a search waits for the vectors of memories added just before it (read your
#: writes by meaning); beyond that it goes on, finding the rest by their words.
VECTOR_WAIT_SECONDS = 1.0
#: A search waits for queued vectors only when at most this many memories are waiting (a
#: few forward passes); behind a longer backlog it goes on at once.
VECTOR_WAIT_MEMORIES = 8
#: :attr:`SearchResult.pending` of a search made while the embedding model loads.
LOADING_NOTE = "the embedding model is loading; this search is lexical"


@dataclass(frozen=True)
class Sources:
    """What a search reads: the stores, the embedding service and the settings."""

    episodic: EpisodicStore
    working: WorkingStore
    embedding: EmbeddingService
    settings: SearchConfig
    working_turns: int
    #: The speaker labels earlier searches saw (:mod:`memvault.core.search.early`).
    known: KnownSpeakers | None = None


@dataclass(frozen=True)
class Request:
    """A search's checked arguments.

    ``where`` filters the episodic search and the working-memory turns; ``session_id`` is
    the caller's current session (``None``: no working memory); ``context`` is the number
    of neighbouring turns on each side of a hit; the hits fit in ``max_chars``; hits whose
    score is under ``min_score`` are left out.
    """

    query: str
    where: MemoryFilter
    session_id: str | None
    limit: int
    context: int
    max_chars: int
    min_score: float = 0.0


def backlog_note(waiting: int) -> str | None:
    """:attr:`SearchResult.pending` of a search made while ``waiting`` of the user's
    memories have no vector yet."""
    if waiting <= 0:
        return None
    memories = "1 memory is" if waiting == 1 else f"{waiting} memories are"
    return f"{memories} still being embedded; they were searched by their words only"


def check_query(query: object) -> str:
    """``query`` if it is a non-blank string of at most :data:`MAX_QUERY_CHARS`."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query is empty: pass what to look for")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is over {MAX_QUERY_CHARS} characters")
    return check_text(query, "query")


def check_context(context: object) -> int:
    """``context`` if it is an integer from 0 to :data:`MAX_CONTEXT`."""
    if isinstance(context, bool) or not isinstance(context, int) or not (
        0 <= context <= MAX_CONTEXT
    ):
        raise InvalidInput(f"context must be an integer from 0 to {MAX_CONTEXT}")
    return context


def check_min_score(min_score: object) -> float:
    """``min_score`` as a float if it is a number from 0 to 1 (``None``: 0)."""
    if min_score is None:
        return 0.0
    if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not (
        0.0 <= min_score <= 1.0
    ):
        raise InvalidInput("min_score must be a number from 0 to 1")
    return float(min_score)


async def run(sources: Sources, request: Request) -> SearchResult:
    """The hits for ``request``: matching working-memory turns first, then episodic
    memories, best first, at most ``request.limit``, within ``request.max_chars``."""
    where, limit = request.where, request.limit
    query_terms = terms(request.query)

    hits: list[SearchHit] = []
    if request.session_id is not None:
        found = await working_hits(
            sources.working, where, request.session_id, query_terms,
            max_turns=sources.working_turns,
        )
        hits = [h for h in (_explained(h, query_terms, working=True) for h in found)
                if h.score >= request.min_score][:limit]
    seen = {h.memory.id for h in hits}

    wanted = limit - len(hits)
    ranked = Ranked([], [])
    waiting = 0
    if wanted > 0:  # working memory may already fill the limit
        embedding = sources.embedding
        if embedding.ready and embedding.backlog() <= VECTOR_WAIT_MEMORIES:
            await embedding.wait_idle(VECTOR_WAIT_SECONDS)
        waiting = embedding.pending(where.user_id) if embedding.ready else 0
        # a floor on the score drops some of the best ranked: ask for more to keep the limit
        asked = wanted if not request.min_score else max(wanted * 3, wanted + 20)
        ranked = await retrieve(
            sources.episodic, sources.embedding, request.query, query_terms, where,
            limit=asked, exclude=seen, settings=sources.settings, known=sources.known,
        )
    episodic = (
        _explained(SearchHit(memory=memory, score=score), query_terms,
                   ranked.evidence.get(memory.id))
        for memory, score in ranked.memories
    )
    hits += [h for h in episodic if h.score >= request.min_score][:wanted]

    if request.context:
        hits = [
            hit.model_copy(update={"context": await sources.episodic.neighbors(
                where.user_id, hit.memory.id, before=request.context, after=request.context)})
            for hit in hits
        ]
    kept, truncated = apply_budget(hits, request.max_chars, query_terms)
    loading = sources.embedding.state == "loading"
    notes = [LOADING_NOTE] if loading else [
        note for note in (ranked.pending, backlog_note(waiting)) if note is not None]
    pending = "; ".join(notes) or None
    return SearchResult(hits=kept, truncated=truncated, retrievers=ranked.retrievers,
                        pending=pending)


def _explained(hit: SearchHit, query_terms: Sequence[str], evidence: Evidence | None = None,
               *, working: bool = False) -> SearchHit:
    """``hit`` with its explanation, and its absolute score in place of the ranking's."""
    explained, score = explanation(hit.memory.content, query_terms, evidence, hit.score,
                                   working=working)
    return hit.model_copy(update={"score": round(score, 6), "explanation": explained})
