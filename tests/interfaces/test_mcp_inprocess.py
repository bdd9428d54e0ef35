"""Tool behaviour that needs no transport: the server driven in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from memvault import Config, InvalidInput
from memvault.interfaces.identity import resolve_identity
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime
from tests.interfaces.mcp_harness import inprocess_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with inprocess_client(tmp_path / "m.db") as connected:
        yield connected


async def test_delete_all_needs_a_real_true(client: Client) -> None:
    await client.call_tool("add_memory", {"content": "keep"})
    for value in ("yes", 1, "true"):
        result = await client.call_tool("delete_all_memories", {"confirm": value})
        assert result.is_error
    listed = await client.call_tool("list_memories", {})
    assert listed.structured_content is not None
    assert len(listed.structured_content["items"]) == 1


def test_headers_set_identity_and_empty_ones_are_refused() -> None:
    config = Config.from_flat({"database": "x.db", "user_id": "default-user",
                               "embedder": "none"})
    who = resolve_identity(config, {"x-user-id": "bob", "x-session-id": "h"}, "arg")
    assert (who.user_id, who.session_id) == ("bob", "arg")
    assert resolve_identity(config, {"x-session-id": "h"}).session_id == "h"
    assert resolve_identity(config, None).user_id == "default-user"
    with pytest.raises(InvalidInput, match="x-user-id header is empty"):
        resolve_identity(config, {"x-user-id": " "})


async def test_a_store_that_cannot_open_is_reported_promptly(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    config = Config.from_flat({"database": str(blocked / "m.db"), "user_id": "a",
                               "embedder": "none"})
    runtime = Runtime(config=config)
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as connected:
            with anyio.fail_after(5):
                result = await connected.call_tool("search_memory", {"query": "x"})
            assert result.is_error
            assert "episodic store unavailable" in result.content[0].text  # type: ignore[union-attr]
        group.cancel_scope.cancel()
