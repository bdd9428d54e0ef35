"""A real OAuth issuer on loopback for the OAuth tests: it serves its JWKS and its RFC 8414
metadata over HTTP from a thread, counts the fetches, rotates keys, and mints tokens (PyJWT),
including the forged ones a resource server must refuse."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["Issuer", "SigningKey", "b64url", "running_issuer"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: PrivateKey

    @classmethod
    def new(cls, kid: str, alg: str = "RS256") -> SigningKey:
        private: PrivateKey
        if alg.startswith(("RS", "PS")):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        return cls(kid=kid, alg=alg, private=private)

    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Issuer:
    """The issuer at ``url``; ``keys`` is what its JWKS serves (change it to rotate)."""

    url: str
    keys: list[SigningKey]
    audience: str = ""
    fetches: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks.json"

    def fetch_count(self, path: str = "/jwks.json") -> int:
        with self.lock:
            return self.fetches.get(path, 0)

    def claims(self, user: str = "alice", scope: str = "memvault:read memvault:write",
               **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": self.audience, "sub": user,
                                  "iat": now, "exp": now + 300, "scope": scope}
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, user: str = "alice", *, key: SigningKey | None = None,
              kid: str | None = "", header: dict[str, Any] | None = None,
              **claims: Any) -> str:
        """A token for ``user`` signed with ``key`` (the first key by default), with ``kid``
        in its header (the key's own unless given; ``None`` leaves it out)."""
        key = key or self.keys[0]
        headers = {"kid": key.kid if kid == "" else kid, **(header or {})}
        if headers["kid"] is None:
            del headers["kid"]
        return jwt.encode(self.claims(user, **claims), key.private, algorithm=key.alg,
                          headers=headers)

    def unsigned(self, user: str = "alice", **claims: Any) -> str:
        """``alg: none``: a header and claims, no signature."""
        head = b64url(json.dumps({"alg": "none", "typ": "JWT",
                                  "kid": self.keys[0].kid}).encode())
        body = b64url(json.dumps(self.claims(user, **claims)).encode())
        return f"{head}.{body}."

    def hmac_with_public_key(self, user: str = "alice", **claims: Any) -> str:
        """HS256 with the issuer's public key (its PEM) as the secret: the key-confusion
        forgery."""
        key = self.keys[0]
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
        body = b64url(json.dumps(self.claims(user, **claims)).encode())
        mac = hmac.new(key.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(mac)}"


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with issuer.lock:
                issuer.fetches[self.path] = issuer.fetches.get(self.path, 0) + 1
                keys = list(issuer.keys)
            if self.path == "/jwks.json":
                document: dict[str, Any] = {"keys": [k.public_jwk() for k in keys]}
            elif self.path == "/.well-known/oauth-authorization-server":
                document = {"issuer": issuer.url, "jwks_uri": issuer.jwks_url,
                            "authorization_endpoint": issuer.url + "/authorize",
                            "token_endpoint": issuer.url + "/token",
                            "response_types_supported": ["code"]}
            else:
                self.send_error(404)
                return
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_issuer(*algs: str, audience: str = "") -> Iterator[Issuer]:
    """An issuer on a free loopback port with one key per algorithm in ``algs`` (default
    one RS256 key)."""
    keys = [SigningKey.new(f"key-{n}", alg) for n, alg in enumerate(algs or ("RS256",))]
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = Issuer(url=f"http://127.0.0.1:{server.server_address[1]}", keys=keys,
                    audience=audience)
    server.RequestHandlerClass = _handler(issuer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
