"""The chat model, asked for facts as structured output.

The first request asks for ``response_format`` ``json_schema`` (strict). A server that refuses
it (HTTP 400 or 422, as older llama.cpp, vLLM and Ollama builds do; llama-cpp-python's server
answers 500 naming ``response_format``) is asked for JSON mode (``json_object``, with the
schema, which llama-cpp-python turns into a grammar and other servers ignore), then with no
``response_format`` at all; the mode that worked is kept for the process. Every reply is
read through :func:`~memvault.embedders.openai_api.capped_chat`, at most ``max_reply_bytes``."""

from __future__ import annotations

from typing import Any

from memvault.config import LLMConfig
from memvault.core.extract.schema import RESPONSE_SCHEMA, ExtractedFact, read_reply
from memvault.embedders.openai_api import capped_chat, open_client
from memvault.errors import ModelUnavailable

__all__ = ["ChatModel"]

_MODES = 3  # json_schema (strict), json_object, none


def _mode(index: int, name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if index == 0:
        return {"type": "json_schema", "json_schema": {
            "name": name, "strict": True, "schema": schema}}
    return {"type": "json_object", "schema": schema} if index == 1 else None


class ChatModel:
    def __init__(self, config: LLMConfig) -> None:
        assert config.model is not None
        self.model = config.model
        self.what = f"llm {config.model}"
        self._max_bytes = config.max_reply_bytes
        key = None if config.api_key is None else config.api_key.get_secret_value()
        # No retries here: a failed request goes back to the durable queue, with backoff.
        self._client = open_client(base_url=config.base_url, api_key=key,
                                   timeout=config.timeout_seconds, max_retries=0)
        self._mode = 0

    async def extract(self, messages: list[dict[str, str]]) -> tuple[list[ExtractedFact], int]:
        """The facts the model reads in ``messages`` and the tokens it used; raises
        :class:`~memvault.errors.ModelUnavailable` or
        :class:`~memvault.errors.ModelReplyInvalid`."""
        return read_reply(await self.ask(messages, "profile_facts", RESPONSE_SCHEMA), self.what)

    async def ask(self, messages: list[dict[str, str]], name: str, schema: dict[str, Any],
                  *, max_tokens: int | None = None) -> dict[str, Any]:
        """The chat-completions answer to ``messages``, asked for JSON of ``schema`` in the
        best mode the server accepts (at most ``max_tokens`` of answer, when given); raises
        :class:`~memvault.errors.ModelUnavailable`."""
        while True:
            body: dict[str, Any] = {"model": self.model, "messages": messages,
                                    "temperature": 0}
            if max_tokens is not None:
                body["max_tokens"] = max_tokens
            mode = _mode(self._mode, name, schema)
            if mode is not None:
                body["response_format"] = mode
            try:
                return await capped_chat(self._client, body, max_bytes=self._max_bytes,
                                         what=self.what)
            except ModelUnavailable as exc:
                if _refused(exc) and self._mode + 1 < _MODES:
                    self._mode += 1
                    continue
                raise

    async def aclose(self) -> None:
        await self._client.close()


def _refused(exc: ModelUnavailable) -> bool:
    """Whether the server refused the request's ``response_format`` (not a passing fault)."""
    return exc.status in (400, 422) or (exc.status == 500 and "response_format" in str(exc))
