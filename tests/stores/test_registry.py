"""The store registry's reading of URLs: a bare path names a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.config import Config
from memvault.errors import ConfigError
from memvault.stores.outbox import OutboxWriter
from memvault.stores.registry import (
    add_writer,
    is_path,
    open_episodic,
    open_profile,
    open_working,
    scheme_of,
)
from memvault.stores.sqlite.db import path_from_url
from memvault.stores.sqlite.joint import SqliteJointWriter
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


class _Forwarding:
    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_adds_are_one_transaction_only_for_the_sqlite_stores_of_one_file(
    tmp_path: Path,
) -> None:
    def writer(episodic: str, profile: str, working: str, wrap: str = "") -> object:
        stores = [open_episodic(episodic), open_profile(profile), open_working(working)]
        stores = [_Forwarding(s) if role in wrap else s
                  for role, s in zip("epw", stores, strict=True)]
        return add_writer(*stores, max_turns=5, ttl_seconds=60)  # type: ignore[arg-type]

    one = f"sqlite:///{tmp_path / 'm.db'}"
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert isinstance(writer(one, one, str(tmp_path / "m.db")), SqliteJointWriter)
    assert isinstance(writer(one, other, one), OutboxWriter)
    assert isinstance(writer(one, one, "memory://"), OutboxWriter)
    for wrapped in "epw":
        assert isinstance(writer(one, one, one, wrap=wrapped), OutboxWriter)
