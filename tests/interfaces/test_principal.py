"""The credential seam: :class:`BearerAuth` over a list of authenticators, and how
:func:`resolve_identity` binds the identity to the :class:`Principal` it finds."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memvault.config import Config
from memvault.errors import ConfigError, Forbidden
from memvault.interfaces.http.auth import BearerAuth, TokenAuthenticator, check_bind
from memvault.interfaces.identity import (
    Identity,
    Principal,
    principal_of,
    require_scope,
    resolve_identity,
)

TOKEN = "static-token-0123456789"


class _Fixed:
    """Accepts one credential as one principal; raises for ``boom``."""

    def __init__(self, credential: str, principal: Principal) -> None:
        self.credential, self.principal = credential, principal

    async def authenticate(self, token: str) -> Principal | None:
        if token == "boom":
            raise RuntimeError("authenticator fault")
        return self.principal if token == self.credential else None


ALICE = Principal(subject="key_alice", scope="write", user_id="alice", agent_id="crm")


def _app() -> Starlette:
    async def who(request: Request) -> JSONResponse:
        principal = principal_of(request)
        return JSONResponse({"subject": principal.subject if principal else None})

    app = Starlette(routes=[Route("/who", who), Route("/health", who)])
    app.add_middleware(BearerAuth, authenticators=[
        TokenAuthenticator(TOKEN), _Fixed("alice-key", ALICE)])
    return app


async def _get(path: str, credential: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"bearer {credential}"} if credential else {}
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        return await http.get(path, headers=headers)


@pytest.mark.anyio
async def test_the_first_authenticator_to_accept_names_the_caller() -> None:
    assert (await _get("/who", TOKEN)).json() == {"subject": "token"}
    assert (await _get("/who", "alice-key")).json() == {"subject": "key_alice"}
    for bad in (None, "nobody", "boom"):
        refused = await _get("/who", bad)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
    # a public path is served without a credential, and still learns a valid one
    assert (await _get("/health")).json() == {"subject": None}
    assert (await _get("/health", "alice-key")).json() == {"subject": "key_alice"}


def test_a_bound_principal_acts_only_as_its_user() -> None:
    config = Config.from_flat({"database": "x.db", "user_id": "configured", "embedder": "none"})
    who = resolve_identity(config, {}, principal=ALICE)
    assert (who.user_id, who.agent_id, who.subject) == ("alice", "crm", "key_alice")
    assert resolve_identity(config, {"x-user-id": "alice"}, principal=ALICE).user_id == "alice"
    with pytest.raises(Forbidden, match="X-User-ID 'bob'"):
        resolve_identity(config, {"x-user-id": "bob"}, principal=ALICE)
    with pytest.raises(Forbidden, match="X-Agent-ID"):
        resolve_identity(config, {"x-agent-id": "other"}, principal=ALICE)


def test_an_admin_acts_for_anyone() -> None:
    config = Config.from_flat({"database": "x.db", "user_id": "configured", "embedder": "none"})
    token = Principal(subject="token", scope="admin", user_id=None)
    assert resolve_identity(config, {}, principal=token).user_id == "configured"
    assert resolve_identity(config, {"x-user-id": "bob"}, principal=token).user_id == "bob"
    bound = Principal(subject="key_adm", scope="admin", user_id="alice")
    assert resolve_identity(config, {}, principal=bound).user_id == "alice"
    assert resolve_identity(config, {"x-user-id": "bob"}, principal=bound).user_id == "bob"


def test_scopes_are_ordered() -> None:
    reader = Identity("alice", None, None, Principal("key_r", "read", "alice"))
    require_scope(reader, "read", "search")
    with pytest.raises(Forbidden, match="add_memory needs a write credential"):
        require_scope(reader, "write", "add_memory")
    require_scope(Identity("local", None, None), "admin", "anything")  # no credential
    assert Identity("local", None, None).subject == "local"


def test_another_credential_lets_the_server_leave_loopback() -> None:
    check_bind("0.0.0.0", None, other_credentials=True)  # e.g. per-user keys
    with pytest.raises(ConfigError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError, match="under 16 characters"):
        check_bind("0.0.0.0", "short", other_credentials=True)
