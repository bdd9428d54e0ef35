"""The issuer's signing keys: its JWKS fetched over HTTP, cached, refetched when stale or when
a token names a key id not seen yet.

Fetches go through :mod:`httpx`'s async client, so the event loop never waits on the network.
They are bounded: one at a time (callers waiting on a fetch share its result), at most
:data:`MAX_DOCUMENT_BYTES` per document and :data:`MAX_KEYS` keys, :data:`FETCH_TIMEOUT` seconds
each, and a key id not in the cache triggers a refetch at most once per
:data:`UNKNOWN_KID_COOLDOWN` seconds, so tokens with made-up key ids cannot make the server
hammer the issuer. A failed fetch keeps the keys fetched before (logged) and is retried after
the cooldown.

Without a configured ``jwks_url``, the URL is the ``jwks_uri`` of the issuer's metadata, looked
up in the order the MCP authorization specification gives clients: RFC 8414
(``/.well-known/oauth-authorization-server`` inserted before the issuer's path), then OpenID
Connect discovery inserted, then appended (``<issuer>/.well-known/openid-configuration``); the
document's ``issuer`` must be the configured one (RFC 8414 section 3.3).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx

__all__ = [
    "FETCH_TIMEOUT", "MAX_DOCUMENT_BYTES", "MAX_KEYS", "UNKNOWN_KID_COOLDOWN", "JwksCache",
    "JwksUnavailable", "metadata_urls",
]

log = logging.getLogger("memvault.oauth")

FETCH_TIMEOUT = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
MAX_KEYS = 64
UNKNOWN_KID_COOLDOWN = 10.0

Jwk = dict[str, Any]


class JwksUnavailable(Exception):
    """A key set or metadata document could not be fetched or read; the message says why."""


def metadata_urls(issuer: str) -> list[str]:
    """Where the issuer's authorization-server metadata may be, in the order to try."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")

    def at(new_path: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, new_path, "", ""))

    urls = [at(f"/.well-known/oauth-authorization-server{path}"),
            at(f"/.well-known/openid-configuration{path}")]
    if path:
        urls.append(at(f"{path}/.well-known/openid-configuration"))
    return urls


def _checked_url(url: object, issuer: str) -> str:
    """A ``jwks_uri`` from metadata: https, or http on the issuer's own loopback host."""
    if not isinstance(url, str):
        raise JwksUnavailable("the issuer's metadata has no jwks_uri")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname == urlsplit(issuer).hostname and (
            urlsplit(issuer).scheme == "http"):
        return url
    raise JwksUnavailable(f"the issuer's jwks_uri {url!r} is not an https:// URL")


class JwksCache:
    """The signing keys of ``issuer``, from ``jwks_url`` or the issuer's metadata.

    ``transport`` replaces the network (tests); ``clock`` is :func:`time.monotonic`."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        cache_seconds: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._ttl = cache_seconds
        self._transport = transport
        self._clock = clock
        self._keys: list[Jwk] = []
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._unknown_at: float | None = None
        self._generation = 0
        self._lock = anyio.Lock()
        #: How many key-set documents were fetched (for tests and the log).
        self.fetches = 0

    async def keys_for(self, kid: str | None) -> list[Jwk]:
        """The signing keys a token with key id ``kid`` may be verified with: the one with
        that ``kid``, or without a ``kid`` every key (the caller takes it only when there is
        one). Empty when none is known, even after a refetch."""
        if self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl:
            await self._refresh(self._generation)
        seen = self._generation
        found = self._matching(kid)
        if not found and kid is not None:
            await self._refresh(seen, unknown=True)
            found = self._matching(kid)
        return found

    def _matching(self, kid: str | None) -> list[Jwk]:
        if kid is None:
            return list(self._keys)
        return [key for key in self._keys if key.get("kid") == kid]

    def _cooling(self, since: float | None) -> bool:
        return since is not None and self._clock() - since < UNKNOWN_KID_COOLDOWN

    async def _refresh(self, seen: int, *, unknown: bool = False) -> None:
        """Fetch the key set, unless it was fetched since generation ``seen`` (by a caller
        this one waited for), the last fetch failed less than the cooldown ago, or (for an
        ``unknown`` key id) a refetch for an unknown key id ran less than the cooldown ago."""
        async with self._lock:
            if self._generation != seen or self._cooling(self._failed_at):
                return
            if unknown:
                if self._cooling(self._unknown_at):
                    return
                self._unknown_at = self._clock()
            try:
                keys = await self._fetch()
            except JwksUnavailable as exc:
                self._failed_at = self._clock()
                log.warning("memvault: cannot fetch the OAuth issuer's keys (%s); %s", exc,
                            "keeping the keys fetched before" if self._keys else
                            "tokens are refused until it answers")
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._failed_at = None
            self._generation += 1

    async def _fetch(self) -> list[Jwk]:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, transport=self._transport,
                                     follow_redirects=False) as client:
            if self._jwks_url is None:
                self._jwks_url = await self._discover(client)
            document = await _get_json(client, self._jwks_url)
        self.fetches += 1
        raw = document.get("keys")
        if not isinstance(raw, list):
            raise JwksUnavailable(f"{self._jwks_url} is not a JWK set (no \"keys\" list)")
        keys = [key for key in raw if isinstance(key, dict) and _is_signing_key(key)]
        if len(keys) > MAX_KEYS:
            log.warning("memvault: the OAuth issuer's key set has %d keys; using the first %d",
                        len(keys), MAX_KEYS)
        return keys[:MAX_KEYS]

    async def _discover(self, client: httpx.AsyncClient) -> str:
        problems: list[str] = []
        for url in metadata_urls(self._issuer):
            try:
                metadata = await _get_json(client, url)
            except JwksUnavailable as exc:
                problems.append(str(exc))
                continue
            if metadata.get("issuer") != self._issuer:
                raise JwksUnavailable(f"{url} names issuer {metadata.get('issuer')!r}, "
                                      f"not {self._issuer!r}")
            return _checked_url(metadata.get("jwks_uri"), self._issuer)
        raise JwksUnavailable("no authorization-server metadata found (set oauth.jwks_url): "
                              + "; ".join(problems))


def _is_signing_key(key: Jwk) -> bool:
    """Public keys for signatures only: no symmetric (``oct``) keys, none marked for
    encryption."""
    return key.get("kty") in ("RSA", "EC", "OKP") and key.get("use", "sig") == "sig" and (
        "d" not in key)


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        async with client.stream("GET", url, headers={"Accept": "application/json"}) as reply:
            if reply.status_code != 200:
                raise JwksUnavailable(f"{url} answered {reply.status_code}")
            body = b""
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise JwksUnavailable(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise JwksUnavailable(f"{url}: {exc or type(exc).__name__}") from exc
    try:
        document = json.loads(body)
    except RecursionError:
        raise JwksUnavailable(f"{url} sent JSON nested too deep to read") from None
    except ValueError:
        raise JwksUnavailable(f"{url} did not send JSON") from None
    if not isinstance(document, dict):
        raise JwksUnavailable(f"{url} did not send a JSON object")
    return document
