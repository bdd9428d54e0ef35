"""The PostgreSQL profile store when its server goes away and comes back, and under
concurrent writers, against a private cluster this module starts (``initdb`` + ``pg_ctl``)
in a temporary directory on a free port.

Nothing here sleeps: ``pg_ctl start -w`` and ``pg_ctl stop -w`` return once the server is up
or down, and the store must work on the first call after the server is back.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest

from memvault.errors import ConfigError, InvalidInput, StoreUnavailable
from memvault.models import ProfileFact
from memvault.stores.base import ProfileStore
from memvault.stores.postgres.schema import PROFILE as POSTGRES_PROFILE
from memvault.stores.registry import open_profile
from tests.contract.builders import fact
from tests.services import free_port, unavailable

pytestmark = pytest.mark.anyio


def _server_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian layout, else PATH)."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    found = [
        p for p in Path("/usr/lib/postgresql").glob("*/bin")
        if (p / "initdb").exists() and (p / "pg_ctl").exists()
    ]
    if found:
        return max(found, key=version)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


@dataclass
class Cluster:
    """A private PostgreSQL cluster run as ``owner`` (``postgres`` when we are root)."""

    bindir: Path
    base: Path
    port: int
    prefix: Sequence[str] = field(default_factory=list)
    running: bool = False

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "server.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, schema: str) -> str:
        return f"postgresql://postgres@{self.endpoint}/postgres?schema={schema}"

    def command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bindir / tool), *args]
        if self.prefix and self.prefix[0] == "su":
            return [*self.prefix, shlex.join(argv)]
        return [*self.prefix, *argv]

    def _start_args(self) -> list[str]:
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
                   " -c fsync=on -c max_connections=50")
        return ["-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                "-o", options, "start"]

    def _stop_args(self, mode: str) -> list[str]:
        return ["-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"]

    def _log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no server log)"

    # Synchronous forms, for fixtures.
    def run(self, tool: str, *args: str) -> None:
        result = subprocess.run(self.command(tool, *args), cwd=self.base, capture_output=True,
                                text=True, timeout=120, check=False)
        if result.returncode:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}\n{self._log()}")

    def start_sync(self) -> None:
        if not self.running:
            self.run("pg_ctl", *self._start_args())
            self.running = True

    def stop_sync(self, mode: str = "immediate") -> None:
        if self.running:
            self.run("pg_ctl", *self._stop_args(mode))
            self.running = False

    # Asynchronous forms, for tests: the event loop keeps serving the pool meanwhile.
    async def _arun(self, tool: str, *args: str) -> None:
        result = await anyio.run_process(self.command(tool, *args), cwd=self.base, check=False)
        if result.returncode:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout.decode()}{result.stderr.decode()}\n"
                               f"{self._log()}")

    async def start(self) -> None:
        await self._arun("pg_ctl", *self._start_args())
        self.running = True

    async def stop(self) -> None:
        await self._arun("pg_ctl", *self._stop_args("fast"))
        self.running = False


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if importlib.util.find_spec("asyncpg") is None:
        unavailable("PostgreSQL", "asyncpg is not installed; pip install -e '.[postgres]'")
    bindir = _server_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries", "initdb and pg_ctl not found "
                    "(apt-get install postgresql)")
        raise AssertionError("unreachable")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="memvault-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            unavailable("PostgreSQL server", "running as root and there is no 'postgres' user")
            raise
        os.chown(base, owner.pw_uid, owner.pw_gid)
        prefix = (["runuser", "-u", "postgres", "--"] if shutil.which("runuser")
                  else ["su", "-s", "/bin/sh", "postgres", "-c"])
    cluster = Cluster(bindir=bindir, base=base, port=free_port(), prefix=prefix)
    try:
        cluster.run("initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--no-sync")
        cluster.start_sync()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        unavailable("PostgreSQL server", f"cannot start a private cluster: {exc}")
        raise
    try:
        yield cluster
    finally:
        try:
            cluster.stop_sync()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg(cluster: Cluster) -> Cluster:
    """The private cluster, running (a test that failed while it was down restarts it)."""
    cluster.start_sync()
    return cluster


async def test_calls_fail_clearly_while_down_and_work_again_after(pg: Cluster) -> None:
    store = open_profile(pg.url("restart"))
    await store.open()
    try:
        written = await store.set_facts([
            fact("city", "Berlin", source_memory_ids=["m1"]),
            fact("diet", "vegetarian", category="preference"),
        ])
        await store.set_facts([fact("city", "Paris", minutes=10)])
        before = await store.get("alice", include_history=True)
        assert [f.value for f in before] == ["Paris", "vegetarian", "Berlin"]

        await pg.stop()

        down = rf"cannot reach PostgreSQL at {re.escape(pg.endpoint)}: "
        with pytest.raises(StoreUnavailable, match=down):
            await store.get("alice")
        with pytest.raises(StoreUnavailable, match=down):
            await store.set_facts([fact("city", "Rome", minutes=20)])
        with pytest.raises(StoreUnavailable) as info:
            await store.count()
        assert info.value.store == "profile"
        assert str(info.value).startswith("profile store unavailable: cannot reach PostgreSQL")
        status = await store.status()
        assert not status.ok
        assert pg.endpoint in status.detail

        await pg.start()

        # The same handle, not reopened: the pool reconnects on the first call.
        assert await store.get("alice", include_history=True) == before
        assert (await store.status()).ok
        await store.set_facts([fact("city", "Rome", minutes=20)])
        assert [f.value for f in await store.get("alice")] == ["Rome", "vegetarian"]
        assert await store.count("alice") == 4
        assert written[1] in await store.get("alice")
    finally:
        await store.close()


async def test_a_killed_connection_is_replaced_within_the_call(pg: Cluster) -> None:
    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    store = open_profile(pg.url("killed"))
    await store.open()
    admin = await asyncpg.connect(f"postgresql://postgres@{pg.endpoint}/postgres")
    try:
        await store.set_facts([fact("city", "Berlin")])
        for minutes in range(1, 6):
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = 'memvault'")
            # Read and write straight after: the dead pooled connection costs no failure.
            await store.set_facts([fact("city", f"city {minutes}", minutes=minutes)])
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = 'memvault'")
            assert [f.value for f in await store.get("alice")] == [f"city {minutes}"]
        assert await store.count("alice") == 6
    finally:
        await admin.close()
        await store.close()


async def test_open_while_down_names_the_server(pg: Cluster) -> None:
    await pg.stop()
    store = open_profile(pg.url("late"))
    down = rf"cannot reach PostgreSQL at {re.escape(pg.endpoint)}: "
    with pytest.raises(StoreUnavailable, match=down):
        await store.open()
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.get("alice")
    await store.close()  # closing a store that never opened is harmless

    await pg.start()
    await store.open()  # the caller's retry
    try:
        await store.set_facts([fact("city", "Berlin")])
        assert await store.count() == 1
    finally:
        await store.close()
        await store.close()


async def test_a_missing_database_is_a_configuration_error(pg: Cluster) -> None:
    store = open_profile(f"postgresql://postgres@{pg.endpoint}/no_such_db")
    with pytest.raises(ConfigError, match=re.escape(pg.endpoint)):
        await store.open()


async def test_replicas_opening_together_migrate_once(pg: Cluster) -> None:
    stores = [open_profile(pg.url("replicas")) for _ in range(4)]
    try:
        async with anyio.create_task_group() as group:
            for store in stores:
                group.start_soon(store.open)
        import asyncpg  # type: ignore[import-untyped,unused-ignore]

        conn = await asyncpg.connect(f"postgresql://postgres@{pg.endpoint}/postgres")
        try:
            rows = await conn.fetch(
                "SELECT component, version FROM replicas.schema_migrations ORDER BY version")
        finally:
            await conn.close()
        assert [(r["component"], r["version"]) for r in rows] == [
            ("profile", m.version) for m in POSTGRES_PROFILE]
    finally:
        for store in stores:
            await store.close()


async def test_concurrent_writers_leave_one_current_value(pg: Cluster) -> None:
    one = open_profile(pg.url("writers"))
    two = open_profile(pg.url("writers"))
    await one.open()
    await two.open()
    try:
        async def write(store: ProfileStore, tag: str) -> None:
            for i in range(25):
                # Both keys in opposite orders: the per-key locks must not deadlock.
                facts = [fact("city", f"{tag}{i}", minutes=i), fact("diet", f"{tag}{i}",
                                                                      minutes=i)]
                await store.set_facts(facts if tag == "a" else facts[::-1])

        async with anyio.create_task_group() as group:
            for store, tag in ((one, "a"), (two, "b"), (one, "c"), (two, "d")):
                group.start_soon(write, store, tag)

        current = await one.get("alice")
        assert [f.key for f in current] == ["city", "diet"]
        everything = await two.get("alice", include_history=True)
        assert len(everything) == await one.count("alice") == 4 * 25 * 2
        assert sum(f.valid_to is None for f in everything) == 2
    finally:
        await one.close()
        await two.close()


async def test_times_keys_and_values_round_trip_exactly(pg: Cluster) -> None:
    store = open_profile(pg.url("roundtrip"))
    await store.open()
    try:
        india = timezone(timedelta(hours=5, minutes=30))
        given = ProfileFact(id="f1", user_id="u", key="k", value={"b": [1, 2.5, None], "a": "é"},
                            valid_from=datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=india))
        await store.set_facts([given])
        [got] = await store.get("u")
        assert got == given
        assert got.valid_from.tzinfo is UTC
        assert got.valid_from == datetime(2024, 1, 1, 21, 34, 5, 123456, tzinfo=UTC)
        # Keys order by code point, as in SQLite, whatever the database's collation.
        await store.set_facts([fact(key, 1, user="u") for key in ["b", "B", "_", "é", "~"]])
        assert [f.key for f in await store.get("u")] == ["B", "_", "b", "k", "~", "é"]
        with pytest.raises(InvalidInput, match="rejected a value"):
            await store.set_facts([fact("nul", "a\x00b", user="u")])
        assert await store.count("u") == 6
    finally:
        await store.close()


def test_the_url_names_the_schema_and_is_never_shown_with_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from memvault.stores.postgres.pool import parse_url

    url = parse_url("postgresql://app:s3cret@db.internal:6543/mem?schema=tenant_7&sslmode=prefer")
    assert url.schema == "tenant_7"
    assert url.dsn == "postgresql://app:s3cret@db.internal:6543/mem?sslmode=prefer"
    assert url.endpoint == "db.internal:6543"
    assert url.location == "postgresql://app@db.internal:6543/mem?schema=tenant_7"
    monkeypatch.delenv("PGPORT", raising=False)
    assert parse_url("postgres://h/db").schema == "memvault"
    assert parse_url("postgres://h/db").endpoint == "h:5432"
    for bad in ("Upper", "1abc", "pg_x", "a-b", "", "x" * 64, "a;drop"):
        with pytest.raises(ConfigError, match="schema"):
            parse_url(f"postgresql://h/db?schema={bad}")
    with pytest.raises(ConfigError, match="not a PostgreSQL URL"):
        parse_url("mysql://root:pw@h/db")


async def test_a_schema_from_a_newer_memvault_is_refused(pg: Cluster) -> None:
    import asyncpg  # type: ignore[import-untyped,unused-ignore]

    store = open_profile(pg.url("newer"))
    await store.open()
    await store.close()
    conn = await asyncpg.connect(f"postgresql://postgres@{pg.endpoint}/postgres")
    try:
        await conn.execute("INSERT INTO newer.schema_migrations (component, version, name)"
                           " VALUES ('profile', 99, 'from the future')")
    finally:
        await conn.close()
    with pytest.raises(ConfigError, match=r"profile schema version 99 .* upgrade memvault"):
        await store.open()
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.count()
