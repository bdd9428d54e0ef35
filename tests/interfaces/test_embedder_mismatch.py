"""A store whose vectors another embedder made is refused through every door, with a
message naming ``memvault reembed``: the MCP tools (stdio and streamable HTTP), the REST
routes and the CLI, all against the real ``memvault`` console script.

Two ways a store and an embedder disagree:

* ``model``: the store records vectors of another model (``test:other``) than the configured
  one (``openai:fake``). Known before any model loads: the server never opens the stores;
  every tool call is a tool error, every REST route that acts on the stores answers 500
  ``ConfigError`` (retrying cannot help, so no 503), ``/health`` answers 503 with the reason;
  ``memvault add``, ``search`` and ``import`` exit 1 with one line on stderr.
* ``size``: the model has the recorded name but now gives vectors of another size (16 in the
  store, 8 from the embedder). Known only once the model answers: the server then closes the
  stores and refuses from then on, as above; ``memvault search`` and ``import`` (which wait
  for the model) refuse, ``memvault add`` (which loads no model) still adds.

The embedder is the OpenAI-compatible one against a small fake ``/v1/embeddings`` server in
this process, whose vector size a test sets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from memvault import Config, Memvault
from memvault.models import EmbeddingInfo
from tests.fake_embeddings import FakeEmbeddings, fake_embeddings
from tests.interfaces.mcp_harness import (
    MEMVAULT,
    LineReader,
    call_error,
    clean_env,
    connect_http,
    running_server,
    stdio_session,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

Case = Literal["model", "size"]
CASES: tuple[Case, ...] = ("model", "size")
REFUSED = "cannot open memvault"  # what the server logs when it gives up on the stores
WAIT = 60.0


DIMENSIONS = 8  # what the fake embeddings server gives; the store records 16


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [1.0 + digest[i % len(digest)] for i in range(DIMENSIONS)]


@pytest.fixture
def embeddings() -> Iterator[FakeEmbeddings]:
    with fake_embeddings(_vector) as server:
        yield server


def _env(server: FakeEmbeddings) -> dict[str, str]:
    return {"MEMVAULT_EMBEDDER_MODEL": "fake", "MEMVAULT_EMBEDDER_BASE_URL": server.url}


async def _store(database: Path, case: Case) -> None:
    """A store with one memory of alice's whose recorded vectors disagree with
    ``openai:fake`` giving 8 dimensions, the ``case`` way."""
    config = Config.from_flat({"database": str(database), "user_id": "alice",
                               "embedder": "none"})
    async with Memvault(config) as mv:
        await mv.add("Anna likes green tea")
        model = "test:other" if case == "model" else "openai:fake"
        await mv.episodic.reset_embeddings(EmbeddingInfo(model=model, dimensions=16))


def _assert_refusal(message: str, case: Case) -> None:
    assert "memvault reembed" in message, message
    assert ("test:other" if case == "model" else "16 dimensions") in message, message


@contextlib.asynccontextmanager
async def _stderr_lines() -> AsyncIterator[tuple[Any, LineReader]]:
    """A file to hand a child as its stderr, and a reader of what it writes there."""
    read_fd, write_fd = os.pipe()
    reader = LineReader(os.fdopen(read_fd, encoding="utf-8", errors="replace"))
    with os.fdopen(write_fd, "w", encoding="utf-8") as errlog:
        yield errlog, reader
    reader.join()


@pytest.mark.parametrize("case", CASES)
async def test_mcp_over_stdio_refuses(tmp_path: Path, embeddings: FakeEmbeddings,
                                      case: Case) -> None:
    await _store(tmp_path / "m.db", case)
    async with _stderr_lines() as (errlog, stderr), stdio_session(
        tmp_path, embedder="openai", env=_env(embeddings), errlog=errlog,
    ) as conn:
        await stderr.await_line(REFUSED, WAIT)
        for tool, arguments in (("add_memory", {"content": "Anna moved to Porto"}),
                                ("search_memory", {"query": "tea"}),
                                ("list_memories", {}), ("get_profile", {})):
            _assert_refusal(await call_error(conn.session, tool, **arguments), case)
    _assert_refusal(stderr.text(), case)


@pytest.mark.parametrize("case", CASES)
async def test_rest_and_mcp_over_http_refuse(tmp_path: Path, embeddings: FakeEmbeddings,
                                             case: Case) -> None:
    await _store(tmp_path / "m.db", case)
    async with running_server(tmp_path, "http", embedder="openai",
                              env=_env(embeddings)) as server, httpx.AsyncClient(
        base_url=server.base, timeout=20,
    ) as client:
        await server.stderr.await_line(REFUSED, WAIT)
        for method, path, body in (("GET", "/v1/memories", None),
                                   ("POST", "/v1/memories", {"content": "Anna moved"}),
                                   ("POST", "/v1/memories/search", {"query": "tea"}),
                                   ("GET", "/v1/profile", None)):
            response = await client.request(method, path, json=body)
            assert response.status_code == 500, (path, response.text)
            assert "retry-after" not in response.headers
            error = response.json()["error"]
            assert error["type"] == "ConfigError"
            _assert_refusal(error["message"], case)
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        _assert_refusal(health.json()["error"], case)
        async with connect_http(server) as conn:
            _assert_refusal(await call_error(conn.session, "add_memory", content="x"), case)


def _cli(tmp_path: Path, server: FakeEmbeddings, *args: str
         ) -> subprocess.CompletedProcess[str]:
    command = [str(MEMVAULT), "--database", str(tmp_path / "m.db"), "--user", "alice",
               "--embedder", "openai", *args]
    return subprocess.run(command, capture_output=True, text=True, env=clean_env(_env(server)),
                          cwd=tmp_path, timeout=100, check=False)


def _assert_cli_refusal(result: subprocess.CompletedProcess[str], case: Case) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # One line of error, last; before it may come the embedder's own log line (``size``).
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], lines
    assert len(lines) <= 2, lines
    _assert_refusal(lines[-1], case)


@pytest.mark.parametrize("case", CASES)
async def test_cli_refuses(tmp_path: Path, embeddings: FakeEmbeddings, case: Case) -> None:
    await _store(tmp_path / "m.db", case)
    export = tmp_path / "other.jsonl"
    export.write_text("\n".join([
        json.dumps({"type": "header", "format": "memvault-export", "version": 1}),
        json.dumps({"type": "memory", "id": "01J00000000000000000000000", "user_id": "alice",
                    "content": "imported", "occurred_at": "2024-01-01T00:00:00Z",
                    "created_at": "2024-01-01T00:00:00Z"}),
    ]) + "\n", encoding="utf-8")

    _assert_cli_refusal(_cli(tmp_path, embeddings, "search", "tea"), case)
    _assert_cli_refusal(_cli(tmp_path, embeddings, "import", str(export)), case)
    added = _cli(tmp_path, embeddings, "add", "Anna moved to Porto")
    if case == "model":
        _assert_cli_refusal(added, case)
    else:  # an add loads no model, so it cannot know the size; it stores no vector either
        assert added.returncode == 0, added.stderr
    listed = _cli(tmp_path, embeddings, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    contents = sorted(m["content"] for m in json.loads(listed.stdout)["items"])
    assert contents == sorted(["Anna likes green tea"] + (
        ["Anna moved to Porto"] if case == "size" else []))
