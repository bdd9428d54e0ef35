"""The store registry's reading of URLs: a bare path names a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.config import Config
from memvault.errors import ConfigError
from memvault.stores.registry import is_path, open_working, scheme_of
from memvault.stores.sqlite.db import path_from_url
from tests.contract.builders import memory

pytestmark = pytest.mark.anyio


def test_a_bare_path_is_sqlite_and_a_url_is_its_scheme() -> None:
    assert all(is_path(p) for p in ("memory.db", "/var/lib/m.db", "~/m.db"))
    assert not is_path("sqlite:///m.db")
    assert [scheme_of(u) for u in ("m.db", "sqlite:///m.db", "Redis://h", "postgresql+x://h")] \
        == ["sqlite", "sqlite", "redis", "postgresql"]
    assert path_from_url("/a/m.db") == path_from_url("sqlite:////a/m.db") == Path("/a/m.db")
    assert path_from_url("~/m.db") == Path.home() / "m.db"
    with pytest.raises(ConfigError, match="not a SQLite URL"):
        path_from_url("redis://h/0")
    with pytest.raises(ConfigError, match="unknown-scheme"):
        open_working("unknown-scheme://x")


async def test_the_configured_database_path_is_the_file_the_stores_open(tmp_path: Path) -> None:
    path = tmp_path / "odd?name%41.db"
    config = Config.from_flat({"database": str(path), "user_id": "alice"})
    assert config.episodic_url == config.profile_url == config.working_url == str(path)
    store = open_working(config.working_url)
    await store.open()
    try:
        await store.push(memory("hello", session="s"), max_turns=5, ttl_seconds=60)
        assert (await store.status()).location == str(path)
    finally:
        await store.close()
    assert path.is_file()
