"""``MemoryLayer`` and ``AsyncMemoryLayer``: on the embedded store, on PostgreSQL with
FalkorDB, and the README's example as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from memvault import AsyncMemoryLayer, MemoryLayer
from memvault.errors import InvalidInput
from tests.contract.backends.postgres import _drop_schema, schema_for, server_url, with_schema
from tests.services import unavailable

README = Path(__file__).resolve().parents[2] / "README.md"


def test_sync_layer_on_the_embedded_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with MemoryLayer(episodic_db=url, session_id="S001", embedder="none") as memory:
        memory.store_profile("alice", {"allergy": "penicillin"})
        memory.store_profile("alice", {"allergy": "none known"})
        stored = memory.store_episodic("alice", "Asked about the cardiology waiting list",
                                       {"department": "cardiology"})
        memory.store_episodic("bob", "Asked about the cardiology waiting list")
        assert stored.session_id == "S001"
        assert memory.retrieve_profile("alice") == {"allergy": "none known"}
        assert memory.retrieve_profile("carol") == {}
        [found] = memory.retrieve_episodic("alice", "cardiology")
        assert found.id == stored.id
        assert found.metadata == {"department": "cardiology"}


def test_a_server_episodic_store_needs_a_profile_store() -> None:
    with pytest.raises(InvalidInput, match="profile_db is required"):
        MemoryLayer(episodic_db="falkordb://127.0.0.1:6379")


async def _exercise(memory: AsyncMemoryLayer) -> None:
    await memory.store_profile("alice", {"risk_tolerance": "low"})
    stored = await memory.store_episodic("alice", "Moved half the portfolio into bonds",
                                         {"advisor": "finance"})
    assert await memory.retrieve_profile("alice") == {"risk_tolerance": "low"}
    found = await memory.retrieve_episodic("alice", "portfolio bonds")
    assert [m.id for m in found] == [stored.id]
    assert await memory.retrieve_episodic("bob", "portfolio bonds") == []


@pytest.mark.anyio
async def test_async_layer_on_the_embedded_store(tmp_path: Path) -> None:
    async with AsyncMemoryLayer(f"sqlite:///{tmp_path / 'm.db'}", session_id="S1",
                                embedder="none") as memory:
        await _exercise(memory)


@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_async_layer_on_postgres_and_falkordb(tmp_path: Path) -> None:
    try:
        from tests.stores.falkordb_server import shared_server
    except ImportError as exc:
        unavailable("FalkorDB", str(exc))
        return
    server = await anyio.to_thread.run_sync(shared_server)
    if isinstance(server, str):
        unavailable("FalkorDB", server)
        return
    schema = schema_for(tmp_path)
    await _drop_schema(server_url(), schema)
    graph = "f" + schema
    try:
        async with AsyncMemoryLayer(server.url(graph),
                                    profile_db=with_schema(server_url(), schema),
                                    session_id="S001", embedder="none") as memory:
            await _exercise(memory)
            await memory.memvault.delete_all(user_id="alice")
    finally:
        await _drop_schema(server_url(), schema)


@pytest.mark.timeout(300)
def test_the_readme_example_runs(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### The MemoryLayer facade"):]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)[:1]
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=280,
                            env={**os.environ, "HF_HUB_OFFLINE": "1",
                                 "TRANSFORMERS_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "{'allergy': 'penicillin', 'blood_type': 'O+'}",
        "Cardiology booked the follow-up scan for 3 May",
    ]
