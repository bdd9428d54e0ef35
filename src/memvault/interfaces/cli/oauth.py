"""The OAuth options of ``memvault serve``: each sets a field of
:class:`memvault.config.OAuthConfig`, over its ``MEMVAULT_OAUTH_*`` variable and the TOML
file's ``[oauth]`` table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

__all__ = ["oauth_options", "oauth_overrides"]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("issuer", "URL", "OAuth 2.1: accept JWT access tokens from this authorization server "
     "(its `iss`). [env MEMVAULT_OAUTH_ISSUER]"),
    ("resource", "URL", "OAuth: this server's URL as clients reach it, e.g. "
     "https://memory.example.com/mcp; tokens must name it in `aud`. "
     "[env MEMVAULT_OAUTH_RESOURCE]"),
    ("jwks-url", "URL", "OAuth: the issuer's key set. [default: the jwks_uri of the issuer's "
     "metadata; env MEMVAULT_OAUTH_JWKS_URL]"),
    ("user-claim", "CLAIM", "OAuth: the claim naming the user. [default: sub; "
     "env MEMVAULT_OAUTH_USER_CLAIM]"),
    ("agent-claim", "CLAIM", "OAuth: the claim naming the agent, if any (e.g. azp). "
     "[env MEMVAULT_OAUTH_AGENT_CLAIM]"),
)


def oauth_options(command: F) -> F:
    """Add ``--oauth-issuer`` and the other OAuth options to ``command``; their values come
    in as ``oauth_*`` keyword arguments (read them with :func:`oauth_overrides`)."""
    for name, metavar, help_text in reversed(_OPTIONS):
        command = click.option(f"--oauth-{name}", f"oauth_{name.replace('-', '_')}",
                               metavar=metavar, help=help_text)(command)
    return command


def oauth_overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration overrides (``oauth.issuer``, ...) of the options given."""
    return {f"oauth.{key.removeprefix('oauth_')}": value for key, value in options.items()
            if key.startswith("oauth_") and value is not None}
