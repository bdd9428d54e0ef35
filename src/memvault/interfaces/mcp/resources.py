"""MCP resources and prompts: the user's memory as things a client can attach or offer.

Resources (JSON, for the calling user only, like every tool):

* ``memvault://profile``: the profile's current facts, with their sources.
* ``memvault://memories/{memory_id}``: one memory in full.
* ``memvault://sessions/{session_id}/recent``: a session's recent turns (working memory).
* ``memvault://types``: the configured memory types, when there are any
  (:mod:`memvault.interfaces.mcp.memory_types`).

Prompts: ``recall`` (what memory holds about a topic, filled in from search and the profile)
and ``save_facts`` (how to store the conversation's key facts with add_memory).

A static resource's function gets no request context in the SDK, yet the profile depends on
who is calling; :func:`read_caller_resource` reads it with the request's context instead.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.resources.base import Resource
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST
from pydantic import BaseModel, Field

from memvault.core.timeutil import shown
from memvault.errors import InvalidInput, MemvaultError, NotFound
from memvault.interfaces.identity import principal_of, resolve_identity
from memvault.interfaces.mcp.outputs import fact_out, full_out, memory_out
from memvault.interfaces.runtime import NotOpen, Runtime

__all__ = ["PROFILE_URI", "CallerResource", "read_caller_resource", "register"]

PROFILE_URI = "memvault://profile"
ResourceContext = Context[Runtime]
#: How many search results the ``recall`` prompt fills in.
RECALL_RESULTS = 8


class CallerResource(Resource):
    """A static resource whose content depends on the caller: read through
    :func:`read_caller_resource`, never through :meth:`read`."""

    render: Callable[[ResourceContext], Awaitable[str]] = Field(exclude=True)

    async def read(self) -> str:  # pragma: no cover - the server reads it with a context
        raise ResourceError("this resource is read with the request's context")


async def read_caller_resource(resource: Resource, context: ResourceContext) -> str | None:
    """The content of ``resource`` for the caller, or ``None`` if it is an ordinary one."""
    if isinstance(resource, CallerResource):
        return await resource.render(context)
    return None


async def _act(context: ResourceContext, session_id: str | None,
               action: Callable[..., Awaitable[Any]], *, prompt: bool = False) -> Any:
    """``action(mv, user)`` for the caller, its errors as the SDK passes them on: for a
    resource, its resource errors; for a ``prompt``, an MCP error (the SDK turns any other
    into a bare "Error rendering prompt")."""
    runtime = context.request_context.lifespan_context
    try:
        who = resolve_identity(runtime.config, context.headers, session_id,
                               principal_of(context.request_context.request))
        mv = await runtime.require()
        return await action(mv, who.user_id)
    except (MemvaultError, NotOpen) as exc:
        if prompt:
            code = INVALID_PARAMS if isinstance(exc, InvalidInput) else INVALID_REQUEST
            raise MCPError(code, str(exc)) from None
        if isinstance(exc, NotFound):
            raise ResourceNotFoundError(str(exc)) from None
        raise ResourceError(str(exc)) from None


def _json(value: BaseModel | list[Any] | dict[str, Any]) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    return json.dumps(value, indent=2, default=str)


async def _profile(context: ResourceContext) -> str:
    profile = await _act(context, None, lambda mv, user: mv.get_profile(user_id=user))
    return _json({"facts": [fact_out(f).model_dump(mode="json") for f in profile.facts]})


async def memory_resource(memory_id: str, ctx: ResourceContext) -> str:
    async def read(mv: Any, user: str) -> Any:
        memory = await mv.get(memory_id, user_id=user)
        return full_out(memory, await mv.history(memory_id, user_id=user))

    return _json(await _act(ctx, None, read))


async def recent_turns_resource(session_id: str, ctx: ResourceContext) -> str:
    page = await _act(ctx, session_id, lambda mv, user: mv.list(
        user_id=user, session_id=session_id, memory_type="working", limit=100))
    return _json({"session_id": session_id,
                  "turns": [memory_out(m).model_dump(mode="json") for m in page.items]})


async def recall(
    ctx: ResourceContext,
    topic: Annotated[str, Field(description="what to recall, e.g. 'my travel plans'")],
) -> str:
    """Recall what memory holds about a topic: the best matching memories and the profile,
    to answer from."""
    async def gather(mv: Any, user: str) -> tuple[Any, Any]:
        found = await mv.search(topic, user_id=user, limit=RECALL_RESULTS, wait_for_model=0)
        return found, await mv.get_profile(user_id=user)

    result, profile = await _act(ctx, None, gather, prompt=True)
    lines = [f"Here is what my memory holds about: {topic}", "", "Memories, best first:"]
    lines += [f"- [{shown(h.memory.occurred_at, time=False)}] {h.memory.content} "
              f"(id {h.memory.id})"
              for h in result.hits] or ["- (none found)"]
    lines += ["", "Profile facts:"]
    lines += [f"- {f.key}: {json.dumps(f.value, ensure_ascii=False)}" for f in profile.facts]
    if not profile.facts:
        lines.append("- (none)")
    lines += ["", "Answer from these, say which memories you used, and call search_memory "
              "for anything they do not cover."]
    return "\n".join(lines)


def save_facts(
    focus: Annotated[str | None, Field(description="what to concentrate on (optional)")] = None,
) -> str:
    """Save the key facts of this conversation to memory with add_memory."""
    scope = f" Concentrate on: {focus}." if focus else ""
    return (
        "Go through this conversation and save what is worth remembering with add_memory."
        f"{scope}\n"
        "- One add_memory call per fact, decision or event, in the user's own words, with "
        "occurred_at when the user gave a date.\n"
        "- Lasting facts about the user (preferences, constraints, background, health, "
        "style) also go in the `profile` argument as key: value, e.g. "
        '{"diet": "vegan"}; use the same key when a fact changes, so the old value moves '
        "to the history; to forget a fact the user withdraws, call set_profile with the key "
        "set to null.\n"
        "- When the user corrects something already in memory, call update_memory on that "
        "memory (search_memory finds its id) instead of adding a second one.\n"
        "- Do not save small talk, or what is already in memory (search_memory first when "
        "unsure).\n"
        "Finally, list what you saved."
    )


def register(server: MCPServer[Runtime]) -> None:
    """Add memvault's resources and prompts to ``server``."""
    server.add_resource(CallerResource(
        uri=PROFILE_URI, name="profile", title="User profile", mime_type="application/json",
        description="The user's current profile facts, each with its category, when it "
        "became true and the memories it came from.", render=_profile,
    ))
    server.resource(
        "memvault://memories/{memory_id}", name="memory", title="A memory",
        mime_type="application/json",
        description="One memory in full: content, time, session, agent and metadata.",
    )(memory_resource)
    server.resource(
        "memvault://sessions/{session_id}/recent", name="recent_turns",
        title="A session's recent turns", mime_type="application/json",
        description="The recent turns of one session (working memory), oldest first.",
    )(recent_turns_resource)
    server.prompt(name="recall", title="Recall from memory")(recall)
    server.prompt(name="save_facts", title="Save this conversation's key facts")(save_facts)
