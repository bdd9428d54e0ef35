"""The OAuth resource server's token checks, against a live issuer on loopback: its JWKS is
fetched over HTTP, cached, refetched for a new key id (boundedly), and every forged, expired
or misdirected token is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from memvault.config import Config, OAuthConfig
from memvault.errors import ConfigError
from memvault.interfaces.http.oauth import JwtAuthenticator, challenge, metadata_document
from memvault.interfaces.http.oauth.jwks import JwksCache, metadata_urls
from memvault.interfaces.identity import Principal
from tests.interfaces.oauth_issuer import Issuer, SigningKey, b64url, running_issuer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

RESOURCE = "http://127.0.0.1:8765/mcp"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with running_issuer("RS256", "ES256", "EdDSA", audience=RESOURCE) as running:
        yield running


def _config(issuer: Issuer, **extra: Any) -> OAuthConfig:
    return OAuthConfig(issuer=issuer.url, resource=RESOURCE, **extra)


async def test_good_tokens_of_each_algorithm(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer))
    for key in issuer.keys:
        principal = await auth.authenticate(issuer.token("alice", key=key))
        assert principal == Principal(subject="oauth:alice", scope="write", user_id="alice")
    # the key set was found through the issuer's RFC 8414 metadata, and fetched once
    assert issuer.fetch_count("/.well-known/oauth-authorization-server") == 1
    assert issuer.fetch_count() == 1


async def test_forged_expired_and_misdirected_tokens_are_refused(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer))
    now = int(time.time())
    other = SigningKey.new(issuer.keys[0].kid)  # the same kid, another key
    good = issuer.token("alice")
    head, body, signature = good.split(".")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    as_bob = b64url(json.dumps(issuer.claims("bob")).encode())
    refused = {
        "expired": issuer.token("alice", exp=now - 120),
        "not yet valid": issuer.token("alice", nbf=now + 120),
        "issued in the future": issuer.token("alice", iat=now + 600),
        "no exp": issuer.token("alice", exp=None),
        "wrong audience": issuer.token("alice", aud="http://127.0.0.1:8765/other"),
        "no audience": issuer.token("alice", aud=None),
        "wrong issuer": issuer.token("alice", iss=issuer.url + "/other"),
        "tampered signature": f"{head}.{body}.{flipped}",
        "tampered claims": f"{head}.{as_bob}.{signature}",
        "signed by another key": issuer.token("alice", key=other),
        "alg none": issuer.unsigned("alice"),
        "HS256 with the public key": issuer.hmac_with_public_key("alice"),
        "unknown kid": issuer.token("alice", kid="nobody"),
        "kid of another algorithm": issuer.token("alice", kid=issuer.keys[1].kid),
        "no memvault scope": issuer.token("alice", scope="openid profile"),
        "empty user": issuer.token("", scope="memvault:read"),
        "not a JWT": "not-a-jwt",
        "garbage": "a.b.c",
    }
    for what, token in refused.items():
        assert await auth.authenticate(token) is None, what
    # within the leeway, a just-expired token still passes
    assert await auth.authenticate(issuer.token("alice", exp=now - 5)) is not None


async def test_audience_may_be_a_list(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer))
    token = issuer.token("alice", aud=["https://elsewhere.example", RESOURCE])
    assert await auth.authenticate(token) is not None


async def test_scopes_and_claims_are_configurable(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer, user_claim="email", agent_claim="azp",
                                    read_scope="mem.r", write_scope="mem.w",
                                    admin_scope="mem.admin"))
    principal = await auth.authenticate(issuer.token(
        "u-123", email="alice@example.com", azp="crm-bot", scope=None, scp=["mem.r"]))
    assert principal == Principal(subject="oauth:u-123", scope="read",
                                  user_id="alice@example.com", agent_id="crm-bot")
    principal = await auth.authenticate(issuer.token(
        "u-123", email="alice@example.com", azp="crm-bot", scope="mem.r mem.admin"))
    assert principal is not None
    assert principal.scope == "admin"
    # the default names no longer count, and the user claim must be there
    assert await auth.authenticate(issuer.token("u-1", email="a@b", scope="memvault:write")) \
        is None
    assert await auth.authenticate(issuer.token("u-1", scope="mem.w")) is None


async def test_rotation_is_picked_up_and_unknown_kids_are_bounded(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer, jwks_url=issuer.jwks_url))
    assert await auth.authenticate(issuer.token("alice")) is not None
    assert issuer.fetch_count() == 1
    assert issuer.fetch_count("/.well-known/oauth-authorization-server") == 0

    rotated = SigningKey.new("key-rotated")
    issuer.keys = [rotated]
    assert await auth.authenticate(issuer.token("alice", key=rotated)) is not None
    assert issuer.fetch_count() == 2
    # the old key is gone from the set: its tokens are refused once the set is refetched
    # ... and made-up key ids do not make the server fetch again and again
    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(auth.authenticate, issuer.token("alice", kid=f"made-up-{n}"))
    assert issuer.fetch_count() == 2
    assert await auth.authenticate(issuer.token("alice", key=rotated)) is not None
    assert issuer.fetch_count() == 2


async def test_concurrent_first_requests_fetch_once(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer, jwks_url=issuer.jwks_url))
    results: list[Principal | None] = []

    async def one() -> None:
        results.append(await auth.authenticate(issuer.token("alice")))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    assert len(results) == 10
    assert all(results)
    assert issuer.fetch_count() == 1


async def test_cache_expires(issuer: Issuer) -> None:
    clock = [1000.0]
    keys = JwksCache(issuer.url, issuer.jwks_url, cache_seconds=60, clock=lambda: clock[0])
    auth = JwtAuthenticator(_config(issuer), keys=keys)
    assert await auth.authenticate(issuer.token("alice")) is not None
    clock[0] += 30
    assert await auth.authenticate(issuer.token("alice")) is not None
    assert issuer.fetch_count() == 1
    clock[0] += 31
    retired = issuer.keys[0]
    issuer.keys = [SigningKey.new("key-next")]
    assert await auth.authenticate(issuer.token("alice")) is not None
    assert issuer.fetch_count() == 2
    assert await auth.authenticate(issuer.token("alice", key=retired)) is None


async def test_issuer_down_refuses_tokens_without_raising() -> None:
    with running_issuer(audience=RESOURCE) as issuer:
        token = issuer.token("alice")
        config = _config(issuer, jwks_url=issuer.jwks_url)
    auth = JwtAuthenticator(config)
    assert await auth.authenticate(token) is None


async def test_another_issuers_token_fetches_nothing(issuer: Issuer) -> None:
    auth = JwtAuthenticator(_config(issuer, jwks_url=issuer.jwks_url))
    assert await auth.authenticate(issuer.token("alice", iss="https://other.example")) is None
    assert issuer.fetch_count() == 0


def test_metadata_urls_follow_rfc8414_then_openid() -> None:
    assert metadata_urls("https://auth.example.com") == [
        "https://auth.example.com/.well-known/oauth-authorization-server",
        "https://auth.example.com/.well-known/openid-configuration",
    ]
    assert metadata_urls("https://auth.example.com/tenant1") == [
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://auth.example.com/.well-known/openid-configuration/tenant1",
        "https://auth.example.com/tenant1/.well-known/openid-configuration",
    ]


def test_challenge_and_document() -> None:
    config = OAuthConfig(issuer="https://auth.example.com",
                         resource="https://memory.example.com/mcp")
    assert challenge(config) == (
        'Bearer resource_metadata="https://memory.example.com/.well-known/'
        'oauth-protected-resource/mcp", scope="memvault:read memvault:write"')
    assert challenge(config, error="invalid_token").endswith(', error="invalid_token"')
    assert metadata_document(config)["authorization_servers"] == ["https://auth.example.com"]


@pytest.mark.parametrize(("flat", "field"), [
    ({"oauth.issuer": "https://auth.example.com"}, "oauth.resource"),
    ({"oauth.issuer": "http://auth.example.com", "oauth.resource": RESOURCE}, "oauth.issuer"),
    ({"oauth.issuer": "auth.example.com", "oauth.resource": RESOURCE}, "oauth.issuer"),
    ({"oauth.issuer": "https://a.example", "oauth.resource": "https://m.example/#x"},
     "oauth.resource"),
    ({"oauth.issuer": "https://a.example", "oauth.resource": RESOURCE,
      "oauth.jwks_url": "ftp://a.example/k"}, "oauth.jwks_url"),
    ({"oauth.read_scope": "memvault read"}, "oauth.read_scope"),
    ({"oauth.leeway_seconds": -1}, "oauth.leeway_seconds"),
    ({"oauth.issuer_url": "https://a.example"}, "oauth.issuer_url"),
])
def test_bad_configuration_names_the_field(flat: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_flat({"database": "x.db", **flat})
    message = str(caught.value)
    assert "\n" not in message
    assert f"{field}:" in message, message


def test_configuration_from_environment() -> None:
    config = Config.load(env={"MEMVAULT_OAUTH_ISSUER": "https://auth.example.com",
                              "MEMVAULT_OAUTH_RESOURCE": "https://memory.example.com/mcp",
                              "MEMVAULT_OAUTH_USER_CLAIM": "email",
                              "MEMVAULT_OAUTH_WRITE_SCOPE": "mem.w"})
    assert config.oauth.enabled
    assert config.oauth.user_claim == "email"
    assert config.oauth.write_scope == "mem.w"
    assert not Config.load(env={}).oauth.enabled
