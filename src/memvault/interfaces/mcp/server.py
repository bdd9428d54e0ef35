"""The MCP server: six tools over one :class:`~memvault.core.memvault.Memvault`.

The Memvault is opened by whoever runs the server (stdio runner or HTTP app lifespan) and
handed over through a :class:`Runtime`; tools raise :class:`ToolError` with a message the
model can act on, and never return error objects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, JsonValue

from memvault.errors import MemvaultError
from memvault.interfaces.mcp.identity import Identity, resolve_identity
from memvault.interfaces.mcp.runtime import Runtime
from memvault.models import Memory, Profile, ProfileFact

__all__ = ["build_server"]

log = logging.getLogger("memvault.mcp")
T = TypeVar("T")

INSTRUCTIONS = """\
memvault is the user's long-term memory, shared across chats, agents and tools.
- Before answering anything that may depend on the user's past (preferences, people, plans,
  earlier conversations), call search_memory with a short query.
- Call add_memory for information worth keeping: what the user said or decided, facts about
  them, events with their dates. Store it verbatim; one memory per fact or turn.
- State lasting facts about the user (preferences, constraints, risk tolerance, health, style)
  in add_memory's `profile` argument; read them back with get_profile.
"""


class MemoryOut(BaseModel):
    id: str
    content: str
    occurred_at: datetime
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class HitOut(MemoryOut):
    score: float
    memory_type: Literal["episodic", "working"]
    context: list[MemoryOut] = Field(default_factory=list)


class AddOut(BaseModel):
    id: str
    occurred_at: datetime
    session_id: str | None
    profile_keys: list[str] = Field(default_factory=list)


class SearchOut(BaseModel):
    results: list[HitOut]
    truncated: bool = Field(description="true when the size budget left results out")


class ListOut(BaseModel):
    memories: list[MemoryOut]
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


class ProfileOut(BaseModel):
    facts: list[FactOut]
    history: list[FactOut] = Field(default_factory=list)


def _memory_out(memory: Memory) -> MemoryOut:
    return MemoryOut(
        id=memory.id, content=memory.content, occurred_at=memory.occurred_at,
        session_id=memory.session_id, agent_id=memory.agent_id, metadata=memory.metadata,
    )


def _fact_out(fact: ProfileFact) -> FactOut:
    return FactOut(
        key=fact.key, value=fact.value, category=fact.category,
        source_memory_ids=fact.source_memory_ids, valid_from=fact.valid_from,
        valid_to=fact.valid_to,
    )


async def _call(action: Callable[[], Awaitable[T]]) -> T:
    try:
        return await action()
    except ToolError:
        raise
    except MemvaultError as exc:
        raise ToolError(str(exc)) from exc


def _identity(runtime: Runtime, ctx: Context, session_id: str | None = None) -> Identity:
    try:
        return resolve_identity(runtime.config, ctx.headers, session_id)
    except MemvaultError as exc:
        raise ToolError(str(exc)) from exc


SessionArg = Annotated[
    str | None,
    Field(description="Id of the current conversation, if you have one. Memories added with "
          "it are linked turn to turn; searches with it rank this session's recent turns "
          "first."),
]


def build_server(runtime: Runtime) -> MCPServer:
    """An MCPServer whose tools act on ``runtime``'s Memvault."""
    from memvault.__version__ import __version__

    server = MCPServer("memvault", instructions=INSTRUCTIONS, version=__version__,
                       log_level=runtime.log_level)

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=False))
    async def add_memory(
        ctx: Context,
        content: Annotated[str, Field(description="The text to remember, verbatim: a message, "
                                      "a fact, a decision or an event. Stored as given. For a "
                                      "turn of a conversation, start with who said it: "
                                      "'Anna: I moved to Berlin in May'.")],
        metadata: Annotated[dict[str, Any] | None, Field(
            description='Optional JSON object kept with the memory, e.g. {"topic": "travel"}; '
            "search_memory can filter on its keys.")] = None,
        occurred_at: Annotated[str | None, Field(
            description="When it happened, ISO 8601 (2024-05-08 or 2024-05-08T13:56:00+02:00;"
            " no timezone means UTC). Default: now.")] = None,
        session_id: SessionArg = None,
        profile: Annotated[dict[str, Any] | None, Field(
            description="Lasting facts about the user that this content states, as key → "
            'value, e.g. {"risk_tolerance": "conservative", "diet": "vegetarian"}. A value may '
            'also be {"value": ..., "category": "preference"}. Setting a key again replaces '
            "its old value, which is kept in the history.")] = None,
    ) -> AddOut:
        """Store a memory for the user. It is kept verbatim and is searchable as soon as this
        returns. Returns the new memory's id."""
        who = _identity(runtime, ctx, session_id)
        mv = await runtime.require()
        memory = await _call(lambda: mv.add(
            content, user_id=who.user_id, agent_id=who.agent_id, session_id=who.session_id,
            metadata=metadata, occurred_at=occurred_at, profile=profile,
        ))
        return AddOut(id=memory.id, occurred_at=memory.occurred_at,
                      session_id=memory.session_id, profile_keys=sorted(profile or {}))

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def search_memory(
        ctx: Context,
        query: Annotated[str, Field(description="What to look for, in plain words: a question "
                                    "or keywords (e.g. 'where does Anna work'). Name people "
                                    "as the memories do: their own words rank first.")],
        limit: Annotated[int, Field(description="Most results to return (1-100).")] = 10,
        session_id: SessionArg = None,
        since: Annotated[str | None, Field(
            description="Only memories that occurred at or after this ISO 8601 date.")] = None,
        until: Annotated[str | None, Field(
            description="Only memories that occurred before this ISO 8601 date.")] = None,
        filters: Annotated[dict[str, Any] | None, Field(
            description='Optional narrowing: {"session_id": ..., "agent_id": ..., '
            '"source": ..., "entity": "Anna", "metadata": {"topic": "travel"}}. '
            "Other keys are rejected.")] = None,
        context: Annotated[int, Field(
            description="Also return up to this many neighbouring turns (0-5) before and "
            "after each result, from the same conversation.")] = 0,
    ) -> SearchOut:
        """Search the user's memories by meaning and keywords. Returns the best matches
        first, each with its id, content, score, when it occurred and its session."""
        who = _identity(runtime, ctx, session_id)
        mv = await runtime.require()
        result = await _call(lambda: mv.search(
            query, user_id=who.user_id, session_id=who.session_id, limit=limit, since=since,
            until=until, filters=filters, context=context,
        ))
        return SearchOut(
            results=[
                HitOut(
                    **_memory_out(hit.memory).model_dump(), score=round(hit.score, 6),
                    memory_type=hit.memory_type,
                    context=[_memory_out(m) for m in hit.context],
                )
                for hit in result.hits
            ],
            truncated=result.truncated,
        )

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def list_memories(
        ctx: Context,
        limit: Annotated[int, Field(description="Page size (1-100).")] = 20,
        cursor: Annotated[str | None, Field(
            description="next_cursor from the previous page; omit for the first page.")] = None,
        session_id: Annotated[str | None, Field(
            description="Only this conversation's memories.")] = None,
        memory_type: Annotated[Literal["episodic", "working"], Field(
            description="'episodic' (default): every stored memory. 'working': the recent "
            "turns of session_id, which is then required.")] = "episodic",
    ) -> ListOut:
        """List the user's memories, newest first, one page at a time."""
        who = _identity(runtime, ctx, session_id)
        mv = await runtime.require()
        # The X-Session-ID header names the current session, which working memory is about;
        # it does not narrow an episodic listing, only the argument does.
        session = who.session_id if memory_type == "working" else session_id
        page = await _call(lambda: mv.list(
            user_id=who.user_id, session_id=session, memory_type=memory_type, limit=limit,
            cursor=cursor,
        ))
        return ListOut(memories=[_memory_out(m) for m in page.items],
                       next_cursor=page.next_cursor)

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=True, idempotent_hint=True))
    async def delete_memory(
        ctx: Context,
        memory_id: Annotated[str, Field(description="The id of the memory to delete, as "
                                        "returned by add_memory, search_memory or "
                                        "list_memories.")],
    ) -> DeleteOut:
        """Delete one memory of the user, permanently."""
        who = _identity(runtime, ctx)
        mv = await runtime.require()
        await _call(lambda: mv.delete(memory_id, user_id=who.user_id))
        return DeleteOut(deleted=memory_id)

    @server.tool(annotations=types.ToolAnnotations(destructive_hint=True))
    async def delete_all_memories(
        ctx: Context,
        confirm: Annotated[bool, Field(strict=True, description="Must be true. Only set it "
                                       "when the user has explicitly asked to erase their "
                                       "memories.")] = False,
        session_id: Annotated[str | None, Field(
            description="Erase only this conversation's memories instead of all.")] = None,
    ) -> DeleteAllOut:
        """Permanently delete the user's memories (and, without session_id, their profile).
        Only this user's data is touched. Reports how many were deleted."""
        if confirm is not True:
            raise ToolError("refused: pass confirm=true to delete memories permanently")
        who = _identity(runtime, ctx)
        mv = await runtime.require()
        report = await _call(lambda: mv.delete_all(user_id=who.user_id, session_id=session_id))
        return DeleteAllOut(**report.model_dump())

    @server.tool(annotations=types.ToolAnnotations(read_only_hint=True))
    async def get_profile(
        ctx: Context,
        include_history: Annotated[bool, Field(
            description="Also return superseded values, with when they stopped being "
            "true.")] = False,
    ) -> ProfileOut:
        """The user's profile: lasting facts (preferences, constraints, background) as key →
        value, each with its category and the memories it came from."""
        who = _identity(runtime, ctx)
        mv = await runtime.require()
        profile: Profile = await _call(lambda: mv.get_profile(
            user_id=who.user_id, include_history=include_history))
        return ProfileOut(facts=[_fact_out(f) for f in profile.facts],
                          history=[_fact_out(f) for f in profile.history])

    _register_set_level(server)
    return server


def _register_set_level(server: MCPServer) -> None:
    """Answer ``logging/setLevel`` by setting memvault's log level (logs go to stderr)."""
    levels = {
        "debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO,
        "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
        "alert": logging.CRITICAL, "emergency": logging.CRITICAL,
    }

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        logging.getLogger("memvault").setLevel(levels.get(params.level, logging.INFO))
        return types.EmptyResult()

    # MCPServer has no public hook for this request; the low-level server does.
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", types.SetLevelRequestParams, set_level
    )
