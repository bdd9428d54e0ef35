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

**The credential.** Over HTTP with authentication on, the auth middleware
(:class:`memvault.interfaces.http.auth.BearerAuth`) turns the bearer credential into a
:class:`Principal` (through the :class:`Authenticator` s the server was built with) and puts it
on the ASGI scope at ``scope["state"]["principal"]`` (:data:`PRINCIPAL_STATE_KEY`;
:func:`principal_of` reads it back from a request). :func:`resolve_identity` then binds the
identity to it: ``X-User-ID`` may only repeat the principal's user (anything else is
:class:`~memvault.errors.Forbidden`), a principal bound to a user acts as that user when the
header is absent, and only an ``admin`` principal may name any user. Without a principal
(stdio, the CLI, the SDK, an HTTP server on loopback with no credential configured) the
headers and the configuration decide, as above. :func:`require_scope` refuses what a
principal's scope does not allow (``read`` < ``write`` < ``admin``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import unquote

from memvault.config import Config
from memvault.errors import Forbidden, InvalidInput

__all__ = [
    "IDENTITY_HEADERS", "PRINCIPAL_STATE_KEY", "SCOPES", "Authenticator", "Identity",
    "Principal", "Scope", "header_problem", "principal_of", "require_scope", "resolve_identity",
]

IDENTITY_HEADERS = ("X-User-ID", "X-Agent-ID", "X-Session-ID")
#: Where the auth middleware leaves the request's :class:`Principal`: ``scope["state"][...]``.
PRINCIPAL_STATE_KEY = "principal"

Scope = Literal["read", "write", "admin"]
#: The scopes from least to most: each allows what the ones before it do.
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


@dataclass(frozen=True)
class Principal:
    """Who a credential says is calling."""

    #: The credential's id for the audit trail: a key id (``key_...``), a token's subject,
    #: ``"token"`` for the server's single ``--token``.
    subject: str
    scope: Scope
    #: The user the credential is bound to; ``None`` only for an admin credential bound to
    #: no user (the single ``--token``), which acts for the configured user by default.
    user_id: str | None
    #: The agent the credential is bound to, if any (recorded instead of ``X-Agent-ID``).
    agent_id: str | None = None


class Authenticator(Protocol):
    """Turns a bearer credential into a :class:`Principal`."""

    async def authenticate(self, token: str) -> Principal | None:
        """The principal ``token`` stands for, or ``None`` when it is not this
        authenticator's credential or not a valid one (expired, revoked, tampered): never
        raises for a bad token, so the next authenticator can be tried."""
        ...


@dataclass(frozen=True)
class Identity:
    user_id: str
    agent_id: str | None
    session_id: str | None
    #: The credential the request came with; ``None`` without one (stdio, CLI, SDK, an
    #: HTTP server with no authentication): such a caller may do anything.
    principal: Principal | None = None

    @property
    def subject(self) -> str:
        """Who is acting, for the audit trail: the credential's subject, or ``"local"``."""
        return self.principal.subject if self.principal is not None else "local"


def principal_of(request: object) -> Principal | None:
    """The :class:`Principal` the auth middleware left on ``request``'s ASGI scope (a
    Starlette request or anything with a ``scope``), or ``None``."""
    scope = getattr(request, "scope", None)
    state = scope.get("state") if isinstance(scope, Mapping) else None
    found = state.get(PRINCIPAL_STATE_KEY) if isinstance(state, Mapping) else None
    return found if isinstance(found, Principal) else None


def require_scope(who: Identity, needed: Scope, action: str) -> None:
    """Refuse (:class:`~memvault.errors.Forbidden`, naming ``action``) unless ``who``'s
    credential allows ``needed``; a caller without a credential is allowed."""
    principal = who.principal
    if principal is not None and SCOPES.index(principal.scope) < SCOPES.index(needed):
        raise Forbidden(f"forbidden: {action} needs a {needed} credential; this one "
                        f"({principal.subject}) is {principal.scope}")


def _decode(name: str, value: str) -> str:
    if not value.isascii():
        raise InvalidInput(f"the {name} header is not ASCII: percent-encode it as UTF-8 "
                           "(e.g. caf%C3%A9 for café)")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput(f"the {name} header is not percent-encoded UTF-8") from None


def header_problem(headers: Iterable[tuple[str, str]]) -> str | None:
    """Why the identity headers among ``headers`` (every ``(name, value)`` pair, repeats
    included, names in lower case) cannot be read, or ``None``: one that is not readable
    (:func:`_decode`), or one given more than once (a proxy that appends its own must not
    leave the first, the client's, to decide)."""
    seen: set[str] = set()
    wanted = {name.lower(): name for name in IDENTITY_HEADERS}
    for key, value in headers:
        name = wanted.get(key.lower())
        if name is None:
            continue
        if name in seen:
            return f"the {name} header is given more than once"
        seen.add(name)
        try:
            _decode(name, value)
        except InvalidInput as exc:
            return str(exc)
    return None


def resolve_identity(
    config: Config, headers: Mapping[str, str] | None, session_id: str | None = None,
    principal: Principal | None = None,
) -> Identity:
    """The identity a call acts for (see the module's docstring for the precedence and how
    ``principal`` binds it). Raises :class:`InvalidInput` for an unreadable or empty header
    and :class:`~memvault.errors.Forbidden` for an ``X-User-ID`` (or ``X-Agent-ID``) the
    credential does not allow."""
    headers = {name.lower(): _decode(name, headers[name.lower()])
               for name in IDENTITY_HEADERS if headers and name.lower() in headers}
    for name, what in (("x-user-id", "user"), ("x-agent-id", "agent")):
        if name in headers and not headers[name].strip():
            raise InvalidInput(f"the {name} header is empty: omit it or name the {what}")
    user = headers.get("x-user-id") or config.user_id
    agent = headers.get("x-agent-id") or config.agent_id
    if principal is not None:
        user, agent = _bound(principal, headers, user, agent)
    session = session_id if session_id is not None else headers.get("x-session-id")
    if session is not None and not session.strip():
        raise InvalidInput("session_id is empty: omit it or pass the conversation's id")
    return Identity(user_id=user, agent_id=agent, session_id=session or None,
                    principal=principal)


def _bound(principal: Principal, headers: Mapping[str, str], user: str, agent: str | None
           ) -> tuple[str, str | None]:
    """The user and agent ``principal`` may act as, given the headers: an admin any user
    (its own by default), any other only its own user and, when bound to one, agent."""
    asked_user, asked_agent = headers.get("x-user-id"), headers.get("x-agent-id")
    if principal.scope == "admin":
        if asked_user is None and principal.user_id is not None:
            user = principal.user_id
        if asked_agent is None and principal.agent_id is not None:
            agent = principal.agent_id
        return user, agent
    if principal.user_id is None:  # a non-admin credential must name its user
        raise Forbidden(f"forbidden: the credential {principal.subject} is bound to no user")
    if asked_user is not None and asked_user != principal.user_id:
        raise Forbidden(f"forbidden: X-User-ID {asked_user!r} is not this credential's user "
                        "(only an admin credential may act for another user)")
    if principal.agent_id is not None:
        if asked_agent is not None and asked_agent != principal.agent_id:
            raise Forbidden(f"forbidden: X-Agent-ID {asked_agent!r} is not this credential's "
                            "agent")
        agent = principal.agent_id
    return principal.user_id, agent
