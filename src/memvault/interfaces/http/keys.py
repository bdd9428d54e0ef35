"""Per-user API keys as bearer credentials: the :class:`KeyAuthenticator` that
``memvault serve --keys`` offers credentials to (see
:func:`memvault.interfaces.serve.authenticators`).

A key (``mvk_...``, made by ``memvault keys create``) is checked against the server's
profile store on every request (:meth:`memvault.core.keys.KeyService.check`: no cache), so a
key revoked through any process is refused by every server at once. The key's id is the
principal's subject (the audit trail names it), its user, agent and scope bind the request
(:func:`~memvault.interfaces.identity.resolve_identity`).
"""

from __future__ import annotations

from memvault.core.keys import KEY_PREFIX, KeyService, key_store
from memvault.errors import StoreUnavailable
from memvault.interfaces.identity import Principal
from memvault.interfaces.runtime import NotOpen, Runtime

__all__ = ["KeyAuthenticator"]


class KeyAuthenticator:
    """Accepts a valid per-user key of ``runtime``'s profile store. While the stores are not
    open it raises :class:`StoreUnavailable` (the server answers 503, not 401: the key may
    well be valid)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._service: tuple[object, KeyService] | None = None

    async def authenticate(self, token: str) -> Principal | None:
        if not token.startswith(KEY_PREFIX):
            return None
        try:
            memvault = await self._runtime.require()
        except NotOpen as exc:
            raise StoreUnavailable("profile", str(exc)) from None
        if self._service is None or self._service[0] is not memvault.profile:
            self._service = (memvault.profile, KeyService(key_store(memvault.profile)))
        key = await self._service[1].check(token)
        if key is None:
            return None
        return Principal(subject=key.id, scope=key.scope, user_id=key.user_id,
                         agent_id=key.agent_id)
