"""The local model on ONNX Runtime: the same vectors and spans as torch, a graph exported once
and checked, no torch in a process that finds it, and a query on a thread of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from memvault.embedders import onnx_engine
from memvault.embedders.local import LocalEmbedder, local_available
from memvault.errors import ConfigError

pytestmark = [pytest.mark.anyio, pytest.mark.skipif(
    not (local_available()[0] and onnx_engine.onnx_available()),
    reason="the local extra (with onnxruntime) is not installed",
)]

_TEXTS = [
    "I adopted a puppy last week.",
    "Caroline: We went hiking near Lisbon in May 2023. Then we drove to Porto. " * 12,
    "我们下周去杭州。",
    "x",
]


def _graphs(directory: Path, pattern: str = "*.onnx") -> list[Path]:
    return list(directory.glob(pattern))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


async def test_onnx_gives_torch_s_vectors_and_spans(cache: Path) -> None:
    onnx = LocalEmbedder(engine="onnx", cache_dir=cache)
    torch = LocalEmbedder(engine="torch")
    try:
        ours, theirs = await onnx.embed_passages(_TEXTS), await torch.embed_passages(_TEXTS)
        assert (onnx.engine, torch.engine) == ("onnx", "torch")
        assert len(_graphs(cache)) == 1
        for a, b in zip(ours, theirs, strict=True):
            assert a.spans == b.spans
            assert float(np.min(np.sum(a.vectors * b.vectors, axis=1))) > 0.9999
        query = await onnx.embed_query(["where did we go hiking?"])
        expected = await torch.embed_query(["where did we go hiking?"])
        assert float(query[0] @ expected[0]) > 0.9999
    finally:
        await onnx.aclose()
        await torch.aclose()


async def test_a_query_runs_beside_the_memories_thread(cache: Path) -> None:
    embedder = LocalEmbedder(engine="onnx", cache_dir=cache)
    names: list[str] = []
    encode = embedder._encode

    def recording(texts: list[str]) -> object:
        names.append(threading.current_thread().name)
        return encode(texts)

    embedder._encode = recording  # type: ignore[method-assign]
    try:
        await embedder.embed(["I live in Lisbon"])
        await embedder.embed_query(["where do I live?"])
        assert names == ["memvault-model", "memvault-model-query"]
    finally:
        await embedder.aclose()


def _child(code: str, cache: Path) -> str:
    env = {**os.environ, "MEMVAULT_TEST_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


_LOAD = """
import anyio, os, sys
from pathlib import Path
from memvault.embedders.local import LocalEmbedder

async def main():
    e = LocalEmbedder(engine="onnx", cache_dir=Path(os.environ["MEMVAULT_TEST_CACHE"]))
    print((await e.embed_query(["where do I live?"])).shape, "torch" in sys.modules)
    await e.aclose()

anyio.run(main)
"""


def test_a_process_that_finds_the_graph_never_imports_torch(cache: Path) -> None:
    assert list(cache.glob("*.onnx")), "made by the first test of this module"
    assert _child(_LOAD, cache).split() == ["(1,", "384)", "False"]


def test_onnx_loads_after_the_ann_library(cache: Path) -> None:
    """The graph index's library imported first, as a large store does when it opens."""
    pytest.importorskip("usearch")
    code = "from memvault.stores.sqlite import ann\nann._index_class()\n" + _LOAD
    assert _child(code, cache).split()[-1] == "False"


async def test_a_graph_that_differs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(onnx_engine, "_TOLERANCE", -1.0)
    strict = LocalEmbedder(engine="onnx", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="differs from the model"):
        await strict.load()
    await strict.aclose()
    auto = LocalEmbedder(engine="auto", cache_dir=tmp_path)
    try:
        vectors = await auto.embed(["still embedded"])
        assert auto.engine == "torch"
        assert vectors.shape == (1, 384)
        assert not _graphs(tmp_path, "*")
    finally:
        await auto.aclose()


async def test_a_changed_model_gets_a_new_graph_and_the_old_one_goes(
    cache: Path, tmp_path: Path,
) -> None:
    from memvault.embedders.local import _resolve

    model = tmp_path / "model"
    shutil.copytree(_resolve("all-MiniLM-L6-v2"), model)
    first = LocalEmbedder(str(model), engine="onnx", cache_dir=tmp_path / "graphs")
    await first.load()
    await first.aclose()
    (before,) = _graphs(tmp_path / "graphs")
    config = model / "config.json"
    config.write_text(config.read_text() + "\n")  # the same model, a newer file
    second = LocalEmbedder(str(model), engine="onnx", cache_dir=tmp_path / "graphs")
    try:
        await second.load()
        (after,) = _graphs(tmp_path / "graphs")
        assert after != before
        assert second.engine == "onnx"
    finally:
        await second.aclose()


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"embedder\.engine"):
        LocalEmbedder(engine="gpu")
