"""Who is calling: the user, agent and session an MCP tool call or a REST request acts for.

Precedence, highest first:

* ``user_id``: the ``X-User-ID`` header (HTTP transports), else the configured user. Tools and
  routes take no user argument, so a model can never act for another user.
* ``agent_id``: the ``X-Agent-ID`` header, else the configured agent.
* ``session_id``: the tool's (or request's) ``session_id`` argument, else the ``X-Session-ID``
  header. The model knows which conversation it is in better than a static header does, so
  it wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memvault.config import Config
from memvault.errors import InvalidInput

__all__ = ["Identity", "resolve_identity"]


@dataclass(frozen=True)
class Identity:
    user_id: str
    agent_id: str | None
    session_id: str | None


def resolve_identity(
    config: Config, headers: Mapping[str, str] | None, session_id: str | None = None
) -> Identity:
    headers = headers or {}
    for name, what in (("x-user-id", "user"), ("x-agent-id", "agent")):
        if name in headers and not headers[name].strip():
            raise InvalidInput(f"the {name} header is empty: omit it or name the {what}")
    user = headers.get("x-user-id") or config.user_id
    agent = headers.get("x-agent-id") or config.agent_id
    session = session_id if session_id is not None else headers.get("x-session-id")
    if session is not None and not session.strip():
        raise InvalidInput("session_id is empty: omit it or pass the conversation's id")
    return Identity(user_id=user, agent_id=agent, session_id=session or None)
