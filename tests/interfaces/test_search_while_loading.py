"""A search made while the embedding model loads: the SDK waits for it (bounded), the MCP
server answers lexically at once, and both say which retrievers ran; the README's SDK
example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from mcp import Client

from memvault import Config, Memvault
from memvault.core.search.pipeline import LOADING_NOTE
from memvault.embedders import Embedder
from memvault.interfaces.mcp.server import build_server
from memvault.interfaces.runtime import Runtime
from tests.core.fakes import HashEmbedder
from tests.interfaces.mcp_harness import clean_env

README = Path(__file__).resolve().parents[2] / "README.md"


def _config(tmp_path: Path, **extra: object) -> Config:
    return Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice", **extra})


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    """The configured embedder, whose load waits for ``gate``."""
    embedder = HashEmbedder(gate=anyio.Event())

    def create(config: object, *recorded: object, **replacing: object) -> tuple[Embedder, str]:
        return embedder, "embedder: test:hash (given)"

    monkeypatch.setattr("memvault.core.memvault.create_embedder", create)
    return embedder


@pytest.mark.anyio
async def test_sdk_search_waits_for_a_loading_model(tmp_path: Path, gated: HashEmbedder
                                                    ) -> None:
    assert gated.gate is not None
    async with Memvault(_config(tmp_path)) as mv:
        await mv.add("I moved to Lisbon in May")
        results = []

        async def search() -> None:
            results.append(await mv.search("moved lisbon"))

        async with anyio.create_task_group() as group:
            group.start_soon(search)
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            assert not results  # still waiting for the model
            gated.gate.set()
        [result] = results
        assert result.retrievers == ["lexical", "vector"]
        assert result.pending is None


@pytest.mark.anyio
async def test_sdk_search_wait_is_bounded_and_says_it_was_lexical(
    tmp_path: Path, gated: HashEmbedder
) -> None:
    async with Memvault(_config(tmp_path, search_wait_seconds=0.05)) as mv:
        await mv.add("I moved to Lisbon in May")
        with anyio.fail_after(5):
            result = await mv.search("lisbon")
        assert result.retrievers == ["lexical"]
        assert result.pending == LOADING_NOTE
        assert [h.memory.content for h in result.hits] == ["I moved to Lisbon in May"]
        with anyio.fail_after(5):
            now = await mv.search("lisbon", wait_for_model=0)
        assert now.pending == LOADING_NOTE


@pytest.fixture
async def client(tmp_path: Path, gated: HashEmbedder) -> AsyncIterator[tuple[Client, Runtime]]:
    runtime = Runtime(config=_config(tmp_path))
    async with anyio.create_task_group() as group:
        group.start_soon(runtime.keep_open)
        async with Client(build_server(runtime)) as connected:
            yield connected, runtime
        group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_mcp_search_answers_at_once_and_says_the_model_is_loading(
    client: tuple[Client, Runtime], gated: HashEmbedder
) -> None:
    connected, runtime = client
    assert gated.gate is not None
    await connected.call_tool("add_memory", {"content": "I moved to Lisbon in May"})
    with anyio.fail_after(5):
        result = await connected.call_tool("search_memory", {"query": "lisbon"})
    out = result.structured_content
    assert out is not None
    assert out["retrievers"] == ["lexical"]
    assert out["pending"] == LOADING_NOTE
    assert [r["memory"]["content"] for r in out["hits"]] == ["I moved to Lisbon in May"]
    gated.gate.set()
    assert runtime.memvault is not None
    assert await runtime.memvault.wait_until_ready(5) == "ready"
    result = await connected.call_tool("search_memory", {"query": "lisbon"})
    out = result.structured_content
    assert out is not None
    assert out["retrievers"] == ["lexical", "vector"]
    assert out.get("pending") is None


def _readme_sdk_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The Python SDK", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README's SDK section has no python block"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_readme_sdk_example_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    script = tmp_path / "example.py"
    script.write_text(_readme_sdk_example(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=170,
        cwd=tmp_path, env=clean_env({"XDG_DATA_HOME": str(tmp_path / "xdg")}),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "I moved to Lisbon in May" in result.stdout
    assert "Lisbon" in result.stdout.split("May", 1)[1]  # the profile fact
