"""The migration rule shared by the SQLite and PostgreSQL stores (the PostgreSQL side is
exercised against a real server in ``test_postgres_faults.py``)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from memvault.errors import ConfigError
from memvault.stores.migrations import Migration, pending
from memvault.stores.registry import open_profile
from memvault.stores.sqlite.schema import PROFILE as SQLITE_PROFILE

pytestmark = pytest.mark.anyio

STEPS = [Migration(2, "second", "-- 2"), Migration(1, "first", "-- 1"), Migration(3, "third", "")]


def test_pending_steps_come_in_version_order_without_the_applied_ones() -> None:
    assert [m.version for m in pending("c", STEPS, [], location="x")] == [1, 2, 3]
    assert [m.version for m in pending("c", STEPS, [1, 3], location="x")] == [2]
    assert pending("c", STEPS, [1, 2, 3], location="x") == []


def test_a_version_newer_than_the_code_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"c schema version 7 in here is newer than this "
                                          r"memvault knows \(3\); upgrade memvault"):
        pending("c", STEPS, [1, 2, 3, 7], location="here")


async def test_a_sqlite_file_from_a_newer_memvault_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = open_profile(f"sqlite:///{path}")
    await store.open()
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations (component, version, name, applied_at)"
                     " VALUES ('profile', 99, 'from the future', '')")
    known = max(m.version for m in SQLITE_PROFILE)
    with pytest.raises(ConfigError, match=rf"profile schema version 99 in {re.escape(str(path))} .*"
                                          rf"\({known}\); upgrade memvault"):
        await store.open()
    await store.close()
