"""What the MCP tools return: structured output models, and their conversion from the core's.

The models are the tools' output schemas (``tools/list``), so their names and fields are part
of the MCP surface. They use the REST API's and the SDK's field names and shapes (a search hit
nests its memory under ``memory``, as :class:`memvault.models.SearchHit` does; a page lists
``items``), and leave out what a model does not need (the user id, the entities).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, JsonValue

from memvault.models import Derived, Explanation, Memory, MemoryVersion, ProfileFact, SearchHit

__all__ = [
    "AddOut",
    "DeleteAllOut",
    "DeleteOut",
    "FactOut",
    "HitOut",
    "ListOut",
    "MemoryFullOut",
    "MemoryOut",
    "ProfileOut",
    "SearchOut",
    "SetProfileOut",
    "VersionOut",
    "fact_out",
    "full_out",
    "hit_out",
    "memory_out",
]


class MemoryOut(BaseModel):
    id: str
    content: str
    occurred_at: datetime
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    type: str | None = Field(default=None, description="the memory type, for a typed memory")
    data: dict[str, JsonValue] | None = Field(
        default=None, description="a typed memory's fields, valid under its type's schema")
    derived: Derived | None = Field(
        default=None, description="set when memvault wrote this memory itself from others "
        "(kind summary: a summary of a session's turns, source_ids), so it is not anyone's "
        "own words; null for what was said")


class HitOut(BaseModel):
    memory: MemoryOut
    score: float = Field(description="0-1, how well the memory itself matches the query, "
                         "comparable across queries")
    memory_type: Literal["episodic", "working"]
    context: list[MemoryOut] = Field(default_factory=list)
    shortened: bool = Field(default=False, description="memory.content is an excerpt (its "
                            "best-matching passages, gaps marked …); get_memory returns it all")
    full_length: int = Field(description="the length of the whole memory.content, in "
                             "characters")
    context_shortened: bool = Field(default=False, description="some context turns are excerpts")
    explanation: Explanation = Field(description="why this memory was found")


class AddOut(BaseModel):
    id: str
    occurred_at: datetime
    session_id: str | None
    profile_keys: list[str] = Field(default_factory=list)


class VersionOut(BaseModel):
    version: int = Field(ge=1, description="1: the memory as first added")
    content: str
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    occurred_at: datetime
    replaced_at: datetime = Field(description="when an update replaced this version")
    data: dict[str, JsonValue] | None = None


class MemoryFullOut(MemoryOut):
    history: list[VersionOut] = Field(
        default_factory=list, description="earlier versions replaced by update_memory, "
        "oldest first; empty for a memory never updated")


class SearchOut(BaseModel):
    hits: list[HitOut]
    truncated: bool = Field(description="true when the size budget shortened some results to "
                            "excerpts (none is left out for size)")
    retrievers: list[str] = Field(
        default_factory=list, description="the retrievers that ran: lexical, vector")
    pending: str | None = Field(
        default=None, description="set while the embedding model loads or the vector index "
        "is being built (the search was lexical only), or while recent memories are still "
        "being embedded (those were matched by their words only): a search by meaning may "
        "find more in a moment")


class ListOut(BaseModel):
    items: list[MemoryOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null at end")


class DeleteOut(BaseModel):
    deleted: str


class DeleteAllOut(BaseModel):
    memories: int
    working: int
    profile_facts: int


class FactOut(BaseModel):
    key: str
    value: JsonValue
    category: str
    source_memory_ids: list[str]
    valid_from: datetime
    valid_to: datetime | None = None
    retired_reason: str | None = None


class ProfileOut(BaseModel):
    facts: list[FactOut]
    history: list[FactOut] = Field(default_factory=list)


class SetProfileOut(BaseModel):
    facts: list[FactOut] = Field(description="the facts set, then those forgotten (with "
                                 'retired_reason "forgotten")')


def memory_out(memory: Memory) -> MemoryOut:
    return MemoryOut(
        id=memory.id, content=memory.content, occurred_at=memory.occurred_at,
        session_id=memory.session_id, agent_id=memory.agent_id, metadata=memory.metadata,
        type=memory.type, data=memory.data,
        derived=memory.derived,
    )


def full_out(memory: Memory, history: list[MemoryVersion]) -> MemoryFullOut:
    return MemoryFullOut(
        **memory_out(memory).model_dump(),
        history=[VersionOut(**version.model_dump()) for version in history],
    )


def hit_out(hit: SearchHit) -> HitOut:
    return HitOut(
        memory=memory_out(hit.memory), score=round(hit.score, 6),
        memory_type=hit.memory_type, context=[memory_out(m) for m in hit.context],
        shortened=hit.shortened,
        full_length=len(hit.memory.content) if hit.full_length is None else hit.full_length,
        context_shortened=hit.context_shortened, explanation=hit.explanation,
    )


def fact_out(fact: ProfileFact) -> FactOut:
    return FactOut(
        key=fact.key, value=fact.value, category=fact.category,
        source_memory_ids=fact.source_memory_ids, valid_from=fact.valid_from,
        valid_to=fact.valid_to, retired_reason=fact.retired_reason,
    )
