"""The nine MCP tools, as module-level functions over the server's :class:`Runtime`.

:func:`~memvault.interfaces.mcp.server.build_server` hands each tool the Runtime as the
server's lifespan context. A tool's signature is its input schema and its docstring its
description; the arguments' texts come from :mod:`memvault.interfaces.schemas`. Tools raise
:class:`ToolError` with a message the model can act on, and never return error objects.
Bounds (``limit``, ``context``, non-empty ``content`` and ``query``) are advertised in the
input schema and enforced by the core, whose messages name the argument and its range.

Every call goes through :func:`authorized` first (the server does it for each tool, so a new
tool is covered without a line of its own): the caller's credential must allow the identity
the call would act as, and a tool not marked read-only needs a ``write`` credential.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import mcp_types as types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from memvault.errors import MemvaultError
from memvault.interfaces import schemas
from memvault.interfaces.identity import (
    Identity,
    principal_of,
    require_scope,
    resolve_identity,
)
from memvault.interfaces.mcp.outputs import (
    AddOut,
    DeleteAllOut,
    DeleteOut,
    ListOut,
    MemoryFullOut,
    ProfileOut,
    SearchOut,
    SetProfileOut,
    fact_out,
    full_out,
    hit_out,
    memory_out,
)
from memvault.interfaces.runtime import NotOpen, Runtime
from memvault.models import MemoryType, Profile

if TYPE_CHECKING:
    from memvault.core.memvault import Memvault

__all__ = [
    "TOOLS",
    "add_memory",
    "authorized",
    "delete_all_memories",
    "delete_memory",
    "get_memory",
    "get_profile",
    "list_memories",
    "search_memory",
    "set_profile",
    "update_memory",
]

T = TypeVar("T")
ToolContext = Context[Runtime]
_LIMIT = schemas.LIMIT_RANGE
_CONTEXT = schemas.CONTEXT_RANGE


def _runtime(ctx: ToolContext) -> Runtime:
    return ctx.request_context.lifespan_context


def _identity(ctx: ToolContext, session_id: str | None = None) -> Identity:
    try:
        return resolve_identity(_runtime(ctx).config, ctx.headers, session_id,
                                principal_of(ctx.request_context.request))
    except MemvaultError as exc:
        raise ToolError(str(exc)) from exc


async def _memvault(ctx: ToolContext) -> Memvault:
    try:
        return await _runtime(ctx).require()
    except NotOpen as exc:
        raise ToolError(str(exc)) from None


async def _call(action: Callable[[], Awaitable[T]]) -> T:
    try:
        return await action()
    except ToolError:
        raise
    except MemvaultError as exc:
        raise ToolError(str(exc)) from exc


async def add_memory(
    ctx: ToolContext,
    content: Annotated[str | None, Field(json_schema_extra=schemas.NON_EMPTY,
                                         description=schemas.CONTENT.tool)] = None,
    metadata: Annotated[dict[str, Any] | None, Field(
        description=schemas.METADATA.tool)] = None,
    occurred_at: Annotated[str | None, Field(description=schemas.OCCURRED_AT.tool)] = None,
    session_id: Annotated[str | None, Field(description=schemas.ADD_SESSION.tool)] = None,
    profile: Annotated[dict[str, Any] | None, Field(description=schemas.PROFILE.tool)] = None,
    idempotency_key: Annotated[str | None, Field(
        json_schema_extra=schemas.IDEMPOTENCY_KEY_SCHEMA,
        description=schemas.IDEMPOTENCY_KEY.tool)] = None,
    type: Annotated[str | None, Field(description=schemas.TYPE.tool)] = None,
    data: Annotated[dict[str, Any] | None, Field(description=schemas.DATA.tool)] = None,
) -> AddOut:
    """Store a memory for the user. It is kept verbatim and is searchable as soon as this
    returns. Returns the new memory's id."""
    who = _identity(ctx, session_id)
    mv = await _memvault(ctx)
    memory = await _call(lambda: mv.add(
        content, user_id=who.user_id, agent_id=who.agent_id, session_id=who.session_id,
        metadata=metadata, occurred_at=occurred_at, profile=profile,
        idempotency_key=idempotency_key, type=type, data=data,
    ))
    return AddOut(id=memory.id, occurred_at=memory.occurred_at,
                  session_id=memory.session_id, profile_keys=sorted(profile or {}))


async def search_memory(
    ctx: ToolContext,
    query: Annotated[str, Field(json_schema_extra=schemas.NON_EMPTY,
                                description=schemas.QUERY.tool)],
    limit: Annotated[int, Field(json_schema_extra=_LIMIT.schema(),
                                description=schemas.SEARCH_LIMIT.tool)] = 10,
    session_id: Annotated[str | None, Field(description=schemas.SEARCH_SESSION.tool)] = None,
    since: Annotated[str | None, Field(description=schemas.SINCE.tool)] = None,
    until: Annotated[str | None, Field(description=schemas.UNTIL.tool)] = None,
    filters: Annotated[dict[str, Any] | None, Field(description=schemas.FILTERS.tool)] = None,
    context: Annotated[int, Field(json_schema_extra=_CONTEXT.schema(),
                                  description=schemas.CONTEXT.tool)] = 0,
    min_score: Annotated[float, Field(json_schema_extra=schemas.MIN_SCORE_BOUNDS,
                                      description=schemas.MIN_SCORE.tool)] = 0.0,
    type: Annotated[str | None, Field(description=schemas.TYPE_FILTER.tool)] = None,
) -> SearchOut:
    """Search the user's memories by meaning and keywords. Returns up to limit matches,
    best first, as hits: each has its memory (id, content, when it occurred, its session),
    score and explanation.

    Every match found is returned. To fit the size budget, a long memory's content may be
    an excerpt: its sentences that best match the query, with gaps marked "…"; such a hit
    has shortened true and full_length, the length of the whole memory. Call get_memory with
    its memory.id to read it in full.

    score (0-1) says how well the memory itself matches the query, the same way for every
    query; min_score leaves out results below it. Each result's explanation says why it was
    found: lexical (the query's terms it contains, and the share matched), semantic (cosine
    similarity by meaning), passage (the best-matching part of the content), neighbour_of
    (the id of the result it came in next to, in the same conversation, when it did not
    match itself), speaker (the speaker or role the query asked for), recency (an
    adjustment for newer statements) and working (a recent turn of this conversation)."""
    who = _identity(ctx, session_id)
    mv = await _memvault(ctx)
    result = await _call(lambda: mv.search(
        query, user_id=who.user_id, session_id=who.session_id, limit=limit, since=since,
        until=until, filters=filters, context=context, wait_for_model=0, min_score=min_score,
        type=type,
    ))
    return SearchOut(
        hits=[hit_out(hit) for hit in result.hits],
        truncated=result.truncated, retrievers=result.retrievers, pending=result.pending,
    )


async def get_memory(
    ctx: ToolContext,
    memory_id: Annotated[str, Field(json_schema_extra=schemas.NON_EMPTY,
                                    description=schemas.GET_MEMORY_ID.tool)],
) -> MemoryFullOut:
    """Read one of the user's memories in full, by id. Use it when search_memory returned an
    excerpt (shortened true) and you need the whole text. Its history lists the earlier
    versions that update_memory replaced. An unknown id is an error."""
    who = _identity(ctx)
    mv = await _memvault(ctx)
    memory = await _call(lambda: mv.get(memory_id, user_id=who.user_id))
    return full_out(memory, await _call(lambda: mv.history(memory_id, user_id=who.user_id)))


async def update_memory(
    ctx: ToolContext,
    memory_id: Annotated[str, Field(json_schema_extra=schemas.NON_EMPTY,
                                    description=schemas.UPDATE_MEMORY_ID.tool)],
    content: Annotated[str | None, Field(json_schema_extra=schemas.NON_EMPTY,
                                         description=schemas.UPDATE_CONTENT.tool)] = None,
    metadata: Annotated[dict[str, Any] | None, Field(
        description=schemas.UPDATE_METADATA.tool)] = None,
    occurred_at: Annotated[str | None, Field(
        description=schemas.UPDATE_OCCURRED_AT.tool)] = None,
    data: Annotated[dict[str, Any] | None, Field(description=schemas.UPDATE_DATA.tool)] = None,
) -> MemoryFullOut:
    """Correct one of the user's memories: replace its content, metadata, data or when it
    occurred. Give only what changes; the id stays the same and the replaced version is kept
    in the memory's history. Returns the memory as now stored, with its history.

    Use it when the user corrects something you remembered. To change a lasting fact about
    the user, use set_profile."""
    who = _identity(ctx)
    mv = await _memvault(ctx)
    memory = await _call(lambda: mv.update(
        memory_id, user_id=who.user_id, content=content, metadata=metadata,
        occurred_at=occurred_at, data=data))
    return full_out(memory, await _call(lambda: mv.history(memory_id, user_id=who.user_id)))


async def list_memories(
    ctx: ToolContext,
    limit: Annotated[int, Field(json_schema_extra=_LIMIT.schema(),
                                description=schemas.PAGE_LIMIT.tool)] = 20,
    cursor: Annotated[str | None, Field(description=schemas.CURSOR.tool)] = None,
    session_id: Annotated[str | None, Field(description=schemas.LIST_SESSION.tool)] = None,
    memory_type: Annotated[MemoryType, Field(
        description=schemas.MEMORY_TYPE.tool)] = "episodic",
    type: Annotated[str | None, Field(description=schemas.TYPE_FILTER.tool)] = None,
) -> ListOut:
    """List the user's memories, newest first, one page at a time."""
    who = _identity(ctx, session_id)
    mv = await _memvault(ctx)
    # The X-Session-ID header names the current session, which working memory is about;
    # it does not narrow an episodic listing, only the argument does.
    session = who.session_id if memory_type == "working" else session_id
    page = await _call(lambda: mv.list(
        user_id=who.user_id, session_id=session, memory_type=memory_type, limit=limit,
        cursor=cursor, type=type,
    ))
    return ListOut(items=[memory_out(m) for m in page.items],
                   next_cursor=page.next_cursor)


async def delete_memory(
    ctx: ToolContext,
    memory_id: Annotated[str, Field(description=schemas.MEMORY_ID.tool)],
) -> DeleteOut:
    """Delete one memory of the user, permanently."""
    who = _identity(ctx)
    mv = await _memvault(ctx)
    await _call(lambda: mv.delete(memory_id, user_id=who.user_id))
    return DeleteOut(deleted=memory_id)


async def delete_all_memories(
    ctx: ToolContext,
    confirm: Annotated[bool, Field(strict=True, description=schemas.CONFIRM.tool)] = False,
    session_id: Annotated[str | None, Field(description=schemas.DELETE_SESSION.tool)] = None,
) -> DeleteAllOut:
    """Permanently delete the user's memories (and, without session_id, their profile).
    Only this user's data is touched. Reports how many were deleted."""
    if confirm is not True:
        raise ToolError("refused: pass confirm=true to delete memories permanently")
    who = _identity(ctx)
    mv = await _memvault(ctx)
    report = await _call(lambda: mv.delete_all(user_id=who.user_id, session_id=session_id))
    return DeleteAllOut(**report.model_dump())


async def get_profile(
    ctx: ToolContext,
    include_history: Annotated[bool, Field(description=schemas.INCLUDE_HISTORY.tool)] = False,
) -> ProfileOut:
    """The user's profile: lasting facts (preferences, constraints, background) as key →
    value, each with its category and the memories it came from."""
    who = _identity(ctx)
    mv = await _memvault(ctx)
    profile: Profile = await _call(lambda: mv.get_profile(
        user_id=who.user_id, include_history=include_history))
    return ProfileOut(facts=[fact_out(f) for f in profile.facts],
                      history=[fact_out(f) for f in profile.history])


async def set_profile(
    ctx: ToolContext,
    facts: Annotated[dict[str, Any], Field(json_schema_extra={"minProperties": 1},
                                           description=schemas.SET_FACTS.tool)],
) -> SetProfileOut:
    """Set or forget lasting facts about the user (preferences, constraints, background),
    without storing a memory. A key given null is forgotten: its current value moves to the
    history and the key has no value. Returns the facts set, then those forgotten."""
    who = _identity(ctx)
    mv = await _memvault(ctx)
    try:
        written = await mv.set_profile(facts, user_id=who.user_id, agent_id=who.agent_id)
    except MemvaultError as exc:
        raise ToolError(f"facts: {exc}") from exc
    return SetProfileOut(facts=[fact_out(f) for f in written])


def _hints(title: str, *, read_only: bool = False, destructive: bool = False,
           idempotent: bool = False) -> types.ToolAnnotations:
    """A tool's annotations: memvault acts on its own stores only (no open world)."""
    return types.ToolAnnotations(
        title=title, read_only_hint=read_only,
        destructive_hint=None if read_only else destructive,
        idempotent_hint=None if read_only else idempotent, open_world_hint=False,
    )


#: The tools in the order ``tools/list`` gives them, with their annotations.
TOOLS: tuple[tuple[Callable[..., Awaitable[Any]], types.ToolAnnotations], ...] = (
    (add_memory, _hints("Remember")),
    (search_memory, _hints("Search memories", read_only=True)),
    (get_memory, _hints("Read a memory in full", read_only=True)),
    (update_memory, _hints("Correct a memory", destructive=True, idempotent=True)),
    (list_memories, _hints("List memories", read_only=True)),
    (delete_memory, _hints("Delete a memory", destructive=True, idempotent=True)),
    (delete_all_memories, _hints("Delete all memories", destructive=True)),
    (get_profile, _hints("Read the user's profile", read_only=True)),
    (set_profile, _hints("Set or forget profile facts", destructive=True, idempotent=True)),
)

#: The tools a ``read`` credential may call: those marked read-only.
READ_ONLY = frozenset(tool.__name__ for tool, hints in TOOLS if hints.read_only_hint)


@contextlib.contextmanager
def authorized(ctx: ToolContext, name: str) -> Iterator[Identity]:
    """Refuse (:class:`ToolError`) the call of tool ``name`` unless the request's credential
    allows it (another user's ``X-User-ID``; a tool that writes with a read credential);
    inside, the core records writes as the credential's (:func:`acting_as`)."""
    from memvault.core.audit import acting_as  # the core is imported once a call comes

    who = _identity(ctx)
    if name not in READ_ONLY:
        try:
            require_scope(who, "write", name)
        except MemvaultError as exc:
            raise ToolError(str(exc)) from None
    with acting_as(who.subject, who.agent_id):
        yield who
