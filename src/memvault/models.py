"""The data model shared by the core, the stores and the interfaces.

Every model is a frozen pydantic model; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "AddOutcome",
    "ApiKey",
    "AuditEntry",
    "Candidate",
    "DeleteReport",
    "Derived",
    "DoctorReport",
    "EmbeddingInfo",
    "Explanation",
    "JsonValue",
    "KeyScope",
    "LexicalMatch",
    "Memory",
    "MemoryFilter",
    "MemoryInput",
    "MemoryPage",
    "MemoryType",
    "MemoryVersion",
    "PassageSpan",
    "Profile",
    "ProfileFact",
    "SearchHit",
    "SearchResult",
    "StoreReport",
    "StoreStatus",
    "VectorReport",
]

MemoryType = Literal["episodic", "working"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Derived(_Frozen):
    """What a derived memory is: written by memvault from other memories, never the words
    of the user or an agent. ``kind`` ``"summary"``: a summary of a session's turns, whose
    ids are ``source_ids`` (oldest first)."""

    kind: Literal["summary"] = Field(default="summary", description="what it is: summary "
                                     "(of a session's turns)")
    source_ids: list[str] = Field(default_factory=list, description="the ids of the "
                                  "memories it was derived from, oldest first")


class Memory(_Frozen):
    """One piece of content, kept verbatim.

    ``occurred_at`` is when the thing happened (given by the caller, else the time of the add);
    ``created_at`` is when memvault stored it. ``entities`` are the normalised names the
    content mentions (see :mod:`memvault.core.entities`). A typed memory has ``type``, the
    name of a configured memory type, and ``data``, an object valid under that type's JSON
    Schema; both are ``None`` for an untyped one.
    content mentions (see :mod:`memvault.core.entities`). ``derived`` is set on a memory
    memvault wrote itself from others (a session's summary), ``None`` on what was said.
    """

    id: str
    user_id: str
    agent_id: str | None = None
    session_id: str | None = None
    content: str
    occurred_at: datetime
    created_at: datetime
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    source: str | None = None
    entities: list[str] = Field(default_factory=list)
    type: str | None = None
    data: dict[str, JsonValue] | None = None
    derived: Derived | None = None


class MemoryFilter(_Frozen):
    """Which memories an operation may see. ``user_id`` is always required.

    ``None`` means "any" for every optional field; ``metadata`` matches by equality on scalar
    values; ``since`` is inclusive and ``until`` exclusive, on ``occurred_at``. ``type``
    keeps the memories of that memory type; ``data`` matches fields of a typed memory's data
    as ``metadata`` matches metadata (a ``None`` value: the field is absent).
    """

    user_id: str
    agent_id: str | None = None
    session_id: str | None = None
    source: str | None = None
    entity: str | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    type: str | None = None
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def admits(self, memory: Memory) -> bool:
        """Whether ``memory`` passes this filter, as a store would decide; for memories a
        store did not filter (working-memory turns, neighbours reached along a session)."""
        return (
            memory.user_id == self.user_id
            and (self.agent_id is None or memory.agent_id == self.agent_id)
            and (self.session_id is None or memory.session_id == self.session_id)
            and (self.source is None or memory.source == self.source)
            and (self.entity is None or self.entity in memory.entities)
            and (self.since is None or memory.occurred_at >= self.since)
            and (self.until is None or memory.occurred_at < self.until)
            and all(memory.metadata.get(k) == v for k, v in self.metadata.items())
            and (self.type is None or memory.type == self.type)
            and all((memory.data or {}).get(k) == v for k, v in self.data.items())
        )


class PassageSpan(_Frozen):
    """A passage of a memory's content: characters start to end (end excluded)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Candidate(_Frozen):
    """A search candidate from one retriever: the memory id and that retriever's score
    (higher is better; scores of different retrievers are not comparable; the vector
    retriever's is the cosine similarity). ``span`` is the passage that matched best, when
    the retriever scored passages."""

    memory_id: str
    score: float
    span: PassageSpan | None = None


class LexicalMatch(_Frozen):
    """Which of the query's terms the memory contains. Every distinct term weighs the same;
    a term also matches its inflections (peanut, peanuts)."""

    matched: list[str] = Field(default_factory=list, description="query terms it contains")
    missing: list[str] = Field(default_factory=list, description="query terms it lacks")
    coverage: float = Field(default=0.0, ge=0.0, le=1.0,
                            description="the share of the query's terms matched, 0-1")


class Explanation(_Frozen):
    """Why a search returned a hit. Fields a stage did not fill are null. Stages may add
    entries of their own under stages, by name."""

    lexical: LexicalMatch | None = Field(
        default=None, description="the query terms the memory contains (null: the query "
        "has no searchable terms)")
    semantic: float | None = Field(
        default=None, description="cosine similarity of the query and the memory by "
        "meaning (its best passage), when the vector search found it")
    passage: PassageSpan | None = Field(
        default=None, description="the best-matching part of the content, when known")
    neighbour_of: str | None = Field(
        default=None, description="the id of the hit this memory sits next to in its "
        "session; set when it came in only as that hit's neighbour, not by matching itself")
    speaker: str | None = Field(
        default=None, description="the speaker or role the query asked for, whose turn "
        "this is; its turns were preferred")
    recency: float | None = Field(
        default=None, description="the ranking adjustment made for how recent the "
        "statement is, if any")
    working: bool = Field(
        default=False, description="a recent turn of the caller's current session")
    rank_score: float = Field(
        default=0.0, description="the fused score the hits are ordered by; relative to this "
        "query's candidates, so unlike score not comparable across queries")
    stages: dict[str, JsonValue] = Field(
        default_factory=dict, description="further entries, by the name of the stage")


class SearchHit(_Frozen):
    """One search result. ``context`` holds neighbouring turns of the same session, oldest
    first, when the search asked for them.

    ``score`` in [0, 1] says how well the memory itself matches the query, the same way for
    every query (:func:`memvault.core.search.explain.absolute_score`): a hit that came in
    only as a neighbour of a match scores by its own words and meaning. Hits are ordered by
    the ranking (``explanation.rank_score``), which uses more evidence than ``score``.

    ``shortened``: ``memory.content`` is a query-focused excerpt of the memory (its
    best-matching passages joined with "…") to fit the result's size budget;
    ``full_length`` is the length of the whole content, which ``get`` returns.
    ``context_shortened``: some context turns are excerpts too.
    """

    memory: Memory
    score: float
    memory_type: MemoryType = "episodic"
    context: list[Memory] = Field(default_factory=list)
    shortened: bool = False
    full_length: int | None = None
    context_shortened: bool = False
    explanation: Explanation = Field(default_factory=Explanation)


class SearchResult(_Frozen):
    """The hits, best first, and whether the character budget shortened any of them
    (``truncated``: some content is an excerpt; hits are never left out for size).

    ``retrievers`` names those that ran (``lexical``, ``vector``); ``pending`` says what
    the search could not yet use: the embedding model is still loading or the store is
    building the user's vector index (the search was lexical), or some of the user's memories
    are still being embedded (they were found by their words only); else ``None``.
    """

    hits: list[SearchHit]
    truncated: bool = False
    retrievers: list[str] = Field(default_factory=list)
    pending: str | None = None


class MemoryPage(_Frozen):
    """A page of memories, newest first; pass ``next_cursor`` to get the next page."""

    items: list[Memory]
    next_cursor: str | None = None


class MemoryVersion(_Frozen):
    """An earlier version of a memory, kept when an update replaced it: its content,
    metadata and ``occurred_at`` as they were, numbered from 1 (as first added), and
    ``replaced_at``, when an update replaced them."""

    version: int = Field(ge=1)
    content: str
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    occurred_at: datetime
    replaced_at: datetime
    #: A typed memory's data as it was (``None`` for an untyped memory).
    data: dict[str, JsonValue] | None = None


class ProfileFact(_Frozen):
    """A fact about a user: ``key`` → ``value`` in a ``category``.

    ``valid_from`` is when it became true (its source memory's ``occurred_at``); ``valid_to``
    is ``None`` for the current value of a key; a superseded value keeps the time it stopped
    being true. ``source_memory_ids`` are the memories the fact came from. A retired fact was
    withdrawn rather than superseded: ``retired_reason`` says why (``"source_deleted"``: its
    sources were deleted; ``"replaced"``: another value was stated at the same instant) and
    its ``valid_to`` is when it was retired (the rules: docs/architecture.md, "Data model").
    """

    id: str
    user_id: str
    key: str
    value: JsonValue
    category: str = "general"
    source_memory_ids: list[str] = Field(default_factory=list)
    agent_id: str | None = None
    valid_from: datetime
    valid_to: datetime | None = None
    retired_reason: str | None = None
    #: ``"stated"`` by an agent or user (an add's ``profile``, ``set_profile``, an import),
    #: or ``"extracted"`` from a memory's text by the configured LLM
    #: (:mod:`memvault.core.extract`); an extracted fact never displaces a stated one.
    origin: Literal["stated", "extracted"] = "stated"


class Profile(_Frozen):
    """A user's current facts and, when asked for, the superseded ones."""

    user_id: str
    facts: list[ProfileFact]
    history: list[ProfileFact] = Field(default_factory=list)


class DeleteReport(_Frozen):
    """How many objects a delete removed, by kind."""

    memories: int = 0
    working: int = 0
    profile_facts: int = 0


class EmbeddingInfo(_Frozen):
    """Which embedder produced the vectors in a store, and their dimension."""

    model: str
    dimensions: int


class StoreStatus(_Frozen):
    """A store's state for ``doctor`` and health checks."""

    role: Literal["episodic", "profile", "working"]
    backend: str
    location: str
    ok: bool
    detail: str = ""


class AddOutcome(_Frozen):
    """What an add did with one item: the memory, and whether an earlier add with the same
    idempotency key had stored it (``replayed``: nothing was stored this time)."""

    memory: Memory
    replayed: bool = False


class MemoryInput(BaseModel):
    """One item for :meth:`Memvault.add_many`; fields are validated by the core, which
    reports problems as :class:`~memvault.errors.InvalidInput`. ``idempotency_key`` makes a
    retry of the same item return the memory first stored (see :meth:`Memvault.add`). A
    typed item gives ``type`` and ``data``, and may leave ``content`` out (it is then
    rendered from the data)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    content: object = None
    session_id: object = None
    agent_id: object = None
    metadata: object = None
    occurred_at: object = None
    source: object = None
    profile: object = None
    id: object = None
    idempotency_key: object = None
    type: object = None
    data: object = None


class StoreReport(_Frozen):
    """One store in a :class:`DoctorReport`: its status, or why it could not be opened.
    ``absent``: the store does not exist yet and was not created to be asked (its ``status``
    says so); the first use creates it."""

    role: Literal["episodic", "profile", "working"]
    status: StoreStatus | None = None
    error: str | None = None
    absent: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status.ok


class VectorReport(_Frozen):
    """The episodic store's vectors: how many of its memories (of every user) have one, and
    which embedder made them (``None`` before the first)."""

    memories: int
    vectors: int
    embedding: EmbeddingInfo | None = None


class JobFailure(_Frozen):
    """A profile-extraction job that failed for good (its memory is stored), and why; for a
    session-summary job, ``session_id`` names the session and ``memory_id`` is empty."""

    memory_id: str
    user_id: str
    attempts: int
    error: str
    session_id: str | None = None


class QueueStats(_Frozen):
    """The profile-extraction queue of a store (:mod:`memvault.core.extract`): jobs
    ``queued`` (waiting or being worked on), ``claimed`` of those (leased by a worker now),
    ``done``, ``failed`` (after every attempt; ``failures`` lists the latest), the tokens the
    model reported in the last 24 hours and when the oldest queued job was made."""

    queued: int = 0
    claimed: int = 0
    done: int = 0
    failed: int = 0
    tokens_24h: int = 0
    oldest_queued: datetime | None = None
    failures: list[JobFailure] = Field(default_factory=list)


class ExtractionReport(_Frozen):
    """Profile extraction in ``memvault doctor``: ``state`` is ``off`` (not configured),
    ``unsupported`` (the episodic store keeps no job queue), ``running`` or ``stopped``;
    ``deferred`` counts the queued jobs beyond ``max_queue`` (kept, worked on in turn), and
    ``over_cap`` says the queue or the day's tokens are past their caps."""

    state: str
    model: str | None = None
    base_url: str | None = None
    queue: QueueStats | None = None
    max_queue: int = 0
    deferred: int = 0
    over_cap: bool = False
    last_error: str | None = None
    summaries: QueueStats | None = Field(
        default=None, description="the session-summary jobs, when summaries are on")


class DoctorReport(_Frozen):
    """A Memvault's state, for ``memvault doctor`` and health checks.

    ``stores`` lists episodic, profile and working, in that order; ``vectors`` is ``None``
    when not asked for or when the episodic store is down. ``embedder_state`` is the
    embedding service's (``disabled``, ``loading``, ``ready`` or ``failed``) and
    ``embedder_reason`` why that embedder was chosen; ``local_extra`` says whether the local
    embedder's packages are installed, ``local_extra_detail`` what was found, and ``e5``,
    ``e5_detail`` the same of the e5 embedder's.
    """

    stores: list[StoreReport]
    vectors: VectorReport | None = None
    embedder_state: str
    embedder_reason: str
    local_extra: bool
    local_extra_detail: str
    e5: bool = False
    e5_detail: str = ""
    extraction: ExtractionReport | None = None

    @property
    def ok(self) -> bool:
        """Every store is open and answering."""
        return all(store.ok for store in self.stores)


# -- credentials and the audit trail ---------------------------------------------------------

#: What a credential allows: ``read`` reads only, ``write`` reads and writes the user's
#: memories, ``admin`` also acts for any user.
KeyScope = Literal["read", "write", "admin"]


class ApiKey(_Frozen):
    """A per-user API key, as stored (its secret never is: only a hash of it, which this
    model does not carry). ``id`` (``key_...``) names it in ``keys list``, ``keys revoke``
    and the audit trail. A key is valid until ``expires_at`` (``None``: no end) unless
    ``revoked_at`` is set."""

    id: str
    name: str | None = None
    user_id: str
    agent_id: str | None = None
    scope: KeyScope
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditEntry(_Frozen):
    """One write or delete: who made it (``subject``: a key id, a token's subject, or
    ``local`` for stdio, the CLI and the SDK), with which agent, for which user, when, and
    what it touched (memory ids, profile keys; never content). ``detail`` holds counts and
    the like."""

    id: str
    at: datetime
    user_id: str
    subject: str
    agent_id: str | None = None
    action: str
    memory_ids: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    detail: dict[str, JsonValue] = Field(default_factory=dict)
