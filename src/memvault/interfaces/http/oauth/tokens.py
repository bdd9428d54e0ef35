"""JWT access tokens from the configured OAuth issuer, turned into a
:class:`~memvault.interfaces.identity.Principal`.

A token is accepted only when all of these hold (PyJWT does the cryptography):

* its header's ``alg`` is one of :data:`ALGORITHMS` (RSA, RSA-PSS, ECDSA on the curve the
  algorithm names, EdDSA): ``none`` and the HMAC family are refused, so a token "signed" with
  the issuer's public key as an HMAC secret is refused too;
* its ``kid`` names a signing key of the issuer's JWKS (:class:`~.jwks.JwksCache`), whose
  type fits the algorithm (and whose own ``alg``, if it has one, is the same); a token
  without ``kid`` is verified only when the key set holds a single key;
* the signature verifies; RSA keys under 2048 bits are refused;
* ``iss`` is the configured issuer, ``aud`` (a string or a list) names the configured
  resource (RFC 8707), ``exp`` is present and not past, ``nbf`` and ``iat`` (when present)
  not in the future, each with ``leeway_seconds`` of clock skew;
* the user claim (``sub`` by default) is a non-empty string of at most 256 characters, and
  the token grants one of the configured scopes.

The scopes come from ``scope`` (a space-separated string, RFC 9068) or ``scp`` (a list or a
string, as some issuers send); the principal gets the strongest one granted:
``admin_scope`` > ``write_scope`` > ``read_scope``. Its subject, for the audit trail, is
``oauth:<sub>``.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import jwt
from jwt.algorithms import has_crypto

from memvault.config import OAuthConfig
from memvault.errors import ConfigError
from memvault.interfaces.http.oauth.jwks import Jwk, JwksCache
from memvault.interfaces.http.oauth.metadata import SUBJECT_PREFIX
from memvault.interfaces.identity import SCOPES, Principal, Scope

__all__ = ["ALGORITHMS", "JwtAuthenticator", "granted_scope"]

log = logging.getLogger("memvault.oauth")

#: The signature algorithms accepted, each with the key type (and curve) it needs.
ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
_MAX_CLAIM = 256
_MAX_TOKEN = 16 * 1024
_MIN_RSA_BITS = 2048


def granted_scope(claims: dict[str, Any], config: OAuthConfig) -> Scope | None:
    """The strongest of the configured scopes ``claims`` grant, or ``None``."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(item for item in value if isinstance(item, str))
    names = {"read": config.read_scope, "write": config.write_scope,
             "admin": config.admin_scope}
    for level in reversed(SCOPES):
        if names[level] in granted:
            return level
    return None


class JwtAuthenticator:
    """An :class:`~memvault.interfaces.identity.Authenticator` for the issuer's JWTs."""

    def __init__(self, config: OAuthConfig, keys: JwksCache | None = None) -> None:
        if config.issuer is None or config.resource is None:
            raise ConfigError("oauth.issuer: OAuth is not configured")
        if not has_crypto:
            raise ConfigError("oauth.issuer: verifying OAuth tokens needs the cryptography "
                              "package: pip install 'memvault[oauth]'")
        self._config = config
        self._issuer = config.issuer
        self._resource = config.resource
        self.keys = keys or JwksCache(config.issuer, config.jwks_url,
                                      cache_seconds=config.jwks_cache_seconds)

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid token from the issuer; ``None`` for anything else (not
        a JWT, another issuer's, invalid): never raises for a bad token."""
        if len(token) > _MAX_TOKEN or token.count(".") != 2:
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS or not (kid is None or isinstance(kid, str)):
            return None
        if not self._from_issuer(token):
            return None  # someone else's token: do not fetch keys for it
        candidates = [key for key in await self.keys.keys_for(kid) if _fits(key, alg)]
        if len(candidates) != 1:
            log.debug("memvault: refused an OAuth token: %s",
                      f"no signing key {kid!r} for {alg}" if not candidates
                      else "no kid and several keys")
            return None
        try:
            key = jwt.PyJWK(cast(Any, candidates[0]), algorithm=alg)
            if ALGORITHMS[alg][0] == "RSA" and key.key.key_size < _MIN_RSA_BITS:
                raise ValueError(f"the signing key {kid!r} is under {_MIN_RSA_BITS} bits")
            claims = jwt.decode(
                token, key, algorithms=[alg],
                issuer=self._issuer, audience=self._resource,
                leeway=self._config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True,
                         "enforce_minimum_key_length": True},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.debug("memvault: refused an OAuth token: %s", exc)
            return None
        return self._principal(claims)

    def _from_issuer(self, token: str) -> bool:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == self._issuer

    def _principal(self, claims: dict[str, Any]) -> Principal | None:
        config = self._config
        user = claims.get(config.user_claim)
        agent = claims.get(config.agent_claim) if config.agent_claim else None
        subject = claims.get("sub")
        scope = granted_scope(claims, config)
        if not _readable(user) or not (agent is None or _readable(agent)):
            log.debug("memvault: refused an OAuth token: claim %s is not a usable name",
                      config.user_claim if not _readable(user) else config.agent_claim)
            return None
        if scope is None:
            log.debug("memvault: refused an OAuth token: it grants none of %s, %s, %s",
                      config.read_scope, config.write_scope, config.admin_scope)
            return None
        named = str(subject if _readable(subject) else user)
        return Principal(subject=SUBJECT_PREFIX + named,
                         scope=scope, user_id=user, agent_id=agent)


def _readable(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_CLAIM and value.strip() == value


def _fits(key: Jwk, alg: str) -> bool:
    kty, curve = ALGORITHMS[alg]
    return key.get("kty") == kty and (curve is None or key.get("crv") == curve) and (
        key.get("alg") in (None, alg))
