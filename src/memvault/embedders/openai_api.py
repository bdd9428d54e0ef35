"""One way to talk to an OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio, llama.cpp's
server), through the ``openai`` package (the ``llm`` extra): the client is built here and
every failure of it is mapped here, once, for the embedder and for profile extraction.

``openai`` is imported when a client is made, not with this module, so memvault runs without
the extra until it is configured."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from memvault.errors import ConfigError, ModelReplyInvalid, ModelUnavailable

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI

__all__ = ["capped_chat", "mapped_errors", "open_client"]

#: The key sent to servers that need none (the package insists on one).
_NO_KEY = "unused"


def open_client(
    *, base_url: str, api_key: str | None, timeout: float, max_retries: int,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncOpenAI:
    """A client of ``base_url`` (e.g. ``http://127.0.0.1:11434/v1``). ``max_retries`` are
    the package's own retries with backoff of 408/409/429/5xx and lost connections."""
    try:
        import httpx2
        from openai import AsyncOpenAI
    except ImportError as exc:
        raise ConfigError(
            f"an OpenAI-compatible server needs the openai package ({exc}): "
            "pip install 'memvault[llm]'"
        ) from None
    http_client = None if transport is None else httpx2.AsyncClient(transport=transport)
    return AsyncOpenAI(
        base_url=base_url.rstrip("/"), api_key=api_key or _NO_KEY, timeout=timeout,
        max_retries=max_retries, http_client=http_client,
    )


@contextlib.asynccontextmanager
async def mapped_errors(what: str) -> AsyncIterator[None]:
    """Raise the ``openai`` package's errors inside the block as
    :class:`~memvault.errors.ModelUnavailable` naming ``what`` (with the HTTP status)."""
    import openai

    try:
        yield
    except openai.APIStatusError as exc:
        raise ModelUnavailable(what, f"HTTP {exc.status_code}: {_brief(exc.message)}",
                               status=exc.status_code) from exc
    except openai.APITimeoutError as exc:
        raise ModelUnavailable(what, "timed out") from exc
    except openai.APIConnectionError as exc:
        raise ModelUnavailable(what, f"cannot connect: {_brief(str(exc.__cause__ or exc))}"
                               ) from exc
    except openai.OpenAIError as exc:
        raise ModelUnavailable(what, _brief(str(exc)), status=0) from exc


async def capped_chat(
    client: AsyncOpenAI, body: Mapping[str, Any], *, max_bytes: int, what: str,
) -> dict[str, Any]:
    """POST ``body`` to ``/chat/completions`` and return the JSON object answered,
    reading at most ``max_bytes`` of it: a longer, non-JSON or non-object reply raises
    :class:`~memvault.errors.ModelReplyInvalid`; the server's failures raise
    :class:`~memvault.errors.ModelUnavailable` (:func:`mapped_errors`)."""
    import httpx2

    chunks: list[bytes] = []
    size = 0
    async with mapped_errors(what):
        try:
            async with client.chat.completions.with_streaming_response.create(
                **body) as response:
                async for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ModelReplyInvalid(
                            f"{what}: the reply is longer than {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx2.HTTPError as exc:  # a body cut off while read
            raise ModelUnavailable(what, f"reply interrupted: {_brief(str(exc))}") from exc
    try:
        answer = json.loads(b"".join(chunks))
    except RecursionError:
        raise ModelReplyInvalid(f"{what}: the reply's JSON is nested too deep to read") \
            from None
    except ValueError as exc:
        raise ModelReplyInvalid(f"{what}: the reply is not JSON ({exc})") from None
    if not isinstance(answer, dict):
        raise ModelReplyInvalid(f"{what}: the reply is not a JSON object")
    return answer


def _brief(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
