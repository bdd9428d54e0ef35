"""The local model on ONNX Runtime: the same vectors and spans as torch, a graph exported once
and checked, no torch in a process that finds it, and a query on a thread of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import anyio.to_thread
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


async def test_a_damaged_graph_is_made_again(tmp_path: Path) -> None:
    first = LocalEmbedder(engine="onnx", cache_dir=tmp_path)
    await first.load()
    await first.aclose()
    (graph,) = _graphs(tmp_path)
    graph.write_bytes(b"truncated")
    again = LocalEmbedder(engine="onnx", cache_dir=tmp_path)
    try:
        assert (await again.embed(["made again"])).shape == (1, 384)
        assert graph.stat().st_size > 1_000_000
    finally:
        await again.aclose()


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"embedder\.engine"):
        LocalEmbedder(engine="gpu")


def _copy_of_the_model(target: Path) -> Path:
    from memvault.embedders.local import _resolve

    shutil.copytree(_resolve("all-MiniLM-L6-v2"), target)
    return target


async def test_a_model_without_token_types_runs_on_onnx(tmp_path: Path) -> None:
    """DistilBERT-like models take no ``token_type_ids``."""
    from transformers import DistilBertConfig, DistilBertModel

    model = _copy_of_the_model(tmp_path / "distil")
    for name in ("model.safetensors", "config.json"):
        (model / name).unlink()
    DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=2,
                                     hidden_dim=64)).save_pretrained(model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "DistilBertTokenizer"
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    onnx = LocalEmbedder(str(model), engine="onnx", cache_dir=tmp_path / "graphs")
    torch = LocalEmbedder(str(model), engine="torch")
    try:
        ours, theirs = await onnx.embed(["hello world", "x"]), await torch.embed(["hello world"])
        assert ours.shape == (2, 32)
        assert float(ours[0] @ theirs[0]) > 0.9999
    finally:
        await onnx.aclose()
        await torch.aclose()


async def test_a_tokenizer_json_that_tokenizes_otherwise_is_refused(tmp_path: Path) -> None:
    """transformers reads tokenizer_config.json too; the two must agree."""
    model = _copy_of_the_model(tmp_path / "cased")
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["do_lower_case"] = False
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    strict = LocalEmbedder(str(model), engine="onnx", cache_dir=tmp_path / "graphs")
    with pytest.raises(ConfigError, match="tokenizes otherwise"):
        await strict.load()
    await strict.aclose()
    auto = LocalEmbedder(str(model), engine="auto", cache_dir=tmp_path / "graphs")
    try:
        await auto.load()
        assert auto.engine == "torch"
    finally:
        await auto.aclose()


async def test_a_cache_that_cannot_be_made_falls_back_to_torch(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    auto = LocalEmbedder(engine="auto", cache_dir=blocked / "graphs")
    try:
        assert (await auto.embed(["still embedded"])).shape == (1, 384)
        assert auto.engine == "torch"
    finally:
        await auto.aclose()
    strict = LocalEmbedder(engine="onnx", cache_dir=blocked / "graphs")
    with pytest.raises(ConfigError):
        await strict.load()
    await strict.aclose()


async def test_on_torch_a_query_does_not_wait_for_the_batch_in_flight() -> None:
    embedder = LocalEmbedder(engine="torch")
    await embedder.load()
    inside, done = threading.Event(), threading.Event()
    passages = embedder._encode_passages

    def long_call(texts: list[str]) -> object:
        inside.set()
        try:
            return passages(texts)
        finally:
            done.set()

    embedder._encode_passages = long_call  # type: ignore[method-assign]
    texts = [f"Turn {i}: " + "we walked along the river and talked about books " * 20
             for i in range(48)]
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(embedder.embed_passages, texts)
            assert await anyio.to_thread.run_sync(inside.wait, 30)
            await embedder.embed_query(["where did we walk?"])
            assert not done.is_set()  # the query went in between the batch's layers
    finally:
        await embedder.aclose()


async def test_an_ann_library_that_does_not_load_leaves_search_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from memvault.models import EmbeddingInfo, MemoryFilter
    from memvault.stores.sqlite import ann
    from memvault.stores.sqlite.episodic import SqliteEpisodicStore
    from tests.contract.builders import memory

    def broken() -> object:
        raise RuntimeError("usearch does not import: a broken build")

    monkeypatch.setattr(ann, "_index_class", broken)
    store = SqliteEpisodicStore(str(tmp_path / "m.db"), ann_min=2)
    await store.open()
    try:
        stored = [memory(f"memory {i}", user="u") for i in range(4)]
        await store.add(stored)
        vectors = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=8))
        await store.set_embeddings([(m.id, v) for m, v in zip(stored, vectors, strict=True)])
        found = await store.vector_search(MemoryFilter(user_id="u"), vectors[2], limit=2)
        assert found[0].memory_id == stored[2].id
    finally:
        await store.close()
