"""Embedders, chosen from :class:`~memvault.config.EmbedderConfig`."""

from __future__ import annotations

from memvault.config import EmbedderConfig
from memvault.embedders.base import Embedder
from memvault.errors import ConfigError

__all__ = ["Embedder", "create_embedder"]


def create_embedder(config: EmbedderConfig) -> tuple[Embedder | None, str]:
    """The configured embedder (``None`` for lexical-only search) and why it was chosen."""
    from memvault.embedders.local import local_available

    kind = config.kind
    if kind == "auto":
        available, why = local_available()
        if not available:
            return None, f"embedder: none (auto: local extra {why}); search is lexical"
        kind = "local"
        reason = "auto: the local extra is installed"
    else:
        reason = "configured"
    if kind == "none":
        return None, "embedder: none (configured); search is lexical"
    if kind == "local":
        from memvault.embedders.local import LocalEmbedder

        embedder: Embedder = LocalEmbedder(config.model, batch_size=config.batch_size)
        return embedder, f"embedder: {embedder.name} ({reason})"
    if kind == "e5":
        from memvault.embedders.e5 import E5Embedder

        e5 = E5Embedder()
        return e5, f"embedder: {e5.name} ({reason})"
    if kind == "openai":
        from memvault.embedders.openai import OpenAIEmbedder

        if not config.model:
            raise ConfigError("the openai embedder needs a model: set embedder.model")
        key = config.api_key.get_secret_value() if config.api_key else None
        openai = OpenAIEmbedder(
            model=config.model, base_url=config.base_url or "https://api.openai.com/v1",
            api_key=key, batch_size=config.batch_size,
        )
        return openai, f"embedder: {openai.name} at {config.base_url or 'api.openai.com'}"
    raise ConfigError(f"unknown embedder {kind!r}")
