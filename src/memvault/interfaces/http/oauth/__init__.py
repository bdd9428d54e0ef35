"""The OAuth 2.1 resource server of the HTTP transports: JWT access tokens checked against the
configured issuer's keys (:mod:`.tokens`, :mod:`.jwks`), and the protected resource's metadata
with the challenges that name it (:mod:`.metadata`). On when ``oauth.issuer`` is configured
(:class:`memvault.config.OAuthConfig`)."""

from memvault.interfaces.http.oauth.jwks import JwksCache, JwksUnavailable
from memvault.interfaces.http.oauth.metadata import (
    ScopeChallenge,
    bearer_settings,
    challenge,
    metadata_document,
    metadata_paths,
    metadata_routes,
    metadata_url,
    resource_hosts,
)
from memvault.interfaces.http.oauth.tokens import ALGORITHMS, JwtAuthenticator, granted_scope

__all__ = [
    "ALGORITHMS", "JwksCache", "JwksUnavailable", "JwtAuthenticator", "ScopeChallenge",
    "bearer_settings", "challenge", "granted_scope", "metadata_document", "metadata_paths",
    "metadata_routes", "metadata_url", "resource_hosts",
]
