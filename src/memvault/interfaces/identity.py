"""Who is calling: the user, agent and session an MCP tool call or a REST request acts for.

Precedence, highest first:

* ``user_id``: the ``X-User-ID`` header (HTTP transports), else the configured user. Tools and
  routes take no user argument, so a model can never act for another user.
* ``agent_id``: the ``X-Agent-ID`` header, else the configured agent.
* ``session_id``: the tool's (or request's) ``session_id`` argument, else the ``X-Session-ID``
  header. The model knows which conversation it is in better than a static header does, so
  it wins.

The three headers are ASCII: a name that is not is sent percent-encoded as UTF-8
(``X-User-ID: caf%C3%A9`` is the user ``café``, the one ``memvault --user café`` reads). A
raw non-ASCII byte is refused (:func:`header_problem`; over HTTP a 400 naming the header),
since servers read header bytes as Latin-1 and the same user would get two names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from memvault.config import Config
from memvault.errors import InvalidInput

__all__ = ["IDENTITY_HEADERS", "Identity", "header_problem", "resolve_identity"]

IDENTITY_HEADERS = ("X-User-ID", "X-Agent-ID", "X-Session-ID")


@dataclass(frozen=True)
class Identity:
    user_id: str
    agent_id: str | None
    session_id: str | None


def _decode(name: str, value: str) -> str:
    if not value.isascii():
        raise InvalidInput(f"the {name} header is not ASCII: percent-encode it as UTF-8 "
                           "(e.g. caf%C3%A9 for café)")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"the {name} header is not percent-encoded UTF-8") from None


def header_problem(headers: Mapping[str, str]) -> str | None:
    """Why an identity header in ``headers`` cannot be read, or ``None``."""
    for name in IDENTITY_HEADERS:
        value = headers.get(name.lower())
        if value is not None:
            try:
                _decode(name, value)
            except InvalidInput as exc:
                return str(exc)
    return None


def resolve_identity(
    config: Config, headers: Mapping[str, str] | None, session_id: str | None = None
) -> Identity:
    headers = {name.lower(): _decode(name, headers[name.lower()])
               for name in IDENTITY_HEADERS if headers and name.lower() in headers}
    for name, what in (("x-user-id", "user"), ("x-agent-id", "agent")):
        if name in headers and not headers[name].strip():
            raise InvalidInput(f"the {name} header is empty: omit it or name the {what}")
    user = headers.get("x-user-id") or config.user_id
    agent = headers.get("x-agent-id") or config.agent_id
    session = session_id if session_id is not None else headers.get("x-session-id")
    if session is not None and not session.strip():
        raise InvalidInput("session_id is empty: omit it or pass the conversation's id")
    return Identity(user_id=user, agent_id=agent, session_id=session or None)
