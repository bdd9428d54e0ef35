"""Embedders, chosen from :class:`~memvault.config.EmbedderConfig` (``auto``:
:mod:`memvault.embedders.auto`)."""

from __future__ import annotations

from memvault.config import EmbedderConfig
from memvault.embedders.base import Embedder
from memvault.errors import ConfigError

__all__ = ["Embedder", "build", "create_embedder"]


def build(kind: str, config: EmbedderConfig, *, model: str | None = None,
          centred: bool = True) -> Embedder:
    """A ``local`` or ``e5`` embedder, not loaded (``model``: the local model, default
    ``config.model``; ``centred``: e5 centres its vectors by script)."""
    if kind == "local":
        from memvault.embedders.local import LocalEmbedder

        return LocalEmbedder(model or config.model, batch_size=config.batch_size,
                             query_threads=config.query_threads, engine=config.engine,
                             cache_dir=config.cache_dir, threads=config.threads)
    if kind == "e5":
        from memvault.embedders.e5 import E5Embedder

        return E5Embedder(centred=centred)
    raise ConfigError(f"unknown embedder {kind!r}")


def create_embedder(
    config: EmbedderConfig, recorded: str | None = None, *, replacing: bool = False
) -> tuple[Embedder | None, str]:
    """The configured embedder (``None`` for lexical-only search) and why it was chosen.

    ``recorded`` is the name of the embedder whose vectors the store holds (``None``: none
    on record) and ``replacing`` says they are about to be made again; only ``auto`` reads
    them (:func:`memvault.embedders.auto.choose`). Nothing is loaded here.
    """
    kind = config.kind
    if kind == "auto":
        from memvault.embedders.auto import choose

        choice = choose(config, recorded, replacing=replacing)
        if choice.kind is None:
            return None, f"embedder: none ({choice.why}); search is lexical"
        chosen = build(choice.kind, config, model=choice.model, centred=choice.centred)
        return chosen, f"embedder: {chosen.name} ({choice.why})"
    if kind == "none":
        return None, "embedder: none (configured); search is lexical"
    if kind in ("local", "e5"):
        embedder = build(kind, config)
        return embedder, f"embedder: {embedder.name} (configured)"
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
