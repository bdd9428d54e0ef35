"""The Redis working store when its server goes away and comes back, and under two replicas
writing to one session at once, against a private ``redis-server`` this module starts on a
free port (no persistence, files in the test's ``tmp_path``).

Nothing here sleeps for a fixed time: a server counts as up once it prints "Ready to accept
connections", and every wait is bounded by a deadline.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from memvault.errors import ConfigError, StoreUnavailable
from memvault.models import Memory
from memvault.stores.redis.working import FALLBACK_DETAIL, RedisWorkingStore, parse_url
from memvault.stores.registry import open_working
from tests.contract.builders import memory
from tests.services import ServerProcess, free_port, running, unavailable

pytestmark = pytest.mark.anyio

DAY = 86_400.0
LOGGER = "memvault.stores.redis"
START_DEADLINE = 15.0
TEST_DEADLINE = 60.0


class PrivateRedis(ServerProcess):
    """A ``redis-server`` child process on a fixed free port, which can be killed and
    started again on that port."""

    name = "redis-server"
    deadline = START_DEADLINE

    def __init__(self, binary: str, directory: Path) -> None:
        super().__init__()
        self.binary = binary
        self.directory = directory

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("Redis", "redis-server is not on PATH")
        raise AssertionError("unreachable")
    with running(PrivateRedis(binary, tmp_path)) as private:
        yield private


@pytest.fixture
async def raw(server: PrivateRedis) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the private server, to look at the keys the store writes."""
    client = aioredis.Redis.from_url(
        server.url, decode_responses=True, socket_connect_timeout=2.0, socket_timeout=5.0,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),  # survive restarts
    )
    try:
        yield client
    finally:
        await client.aclose()


def _store(url: str, prefix: str) -> RedisWorkingStore:
    # A short backoff so that the tests see Redis come back quickly.
    return RedisWorkingStore(f"{url}?prefix={prefix}", retry_min=0.05, retry_max=0.2)


def _contents(turns: list[Memory]) -> list[str]:
    return [t.content for t in turns]


async def _wait_until_back(store: RedisWorkingStore) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        while True:  # polls the store's own recovery; bounded by the deadline
            if (await store.status()).ok:
                return
            await anyio.sleep(0.02)


async def test_falls_back_while_redis_is_down_and_returns_to_it(
    server: PrivateRedis, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    key = "fault:wm:{alice}:s:s1"
    store = _store(server.url, "fault")
    await store.open()
    try:
        with anyio.fail_after(TEST_DEADLINE):
            for i in range(2):
                await store.push(memory(f"before{i}"), max_turns=10, ttl_seconds=DAY)
            assert await raw.llen(key) == 2
            assert (await store.status()).ok

            server.stop()
            for i in range(3):
                await store.push(memory(f"during{i}"), max_turns=10, ttl_seconds=DAY)
            # Only this process's outage turns are served while Redis is down.
            assert _contents(await store.recent("alice", "s1", limit=10)) == [
                "during2", "during1", "during0"]
            status = await store.status()
            assert (status.ok, status.detail) == (False, FALLBACK_DETAIL)
            # Calls across several backoff windows (each ends in a failed retry, logged at
            # debug level): still a single warning for the outage.
            caplog.set_level(logging.DEBUG, logger=LOGGER)

            def retries() -> int:
                return sum("still unreachable" in r.getMessage() for r in caplog.records)

            while retries() < 3:  # bounded by the deadline above
                await store.recent("alice", "s1", limit=10)
                await anyio.sleep(0.01)
            warnings = [r.getMessage() for r in caplog.records
                        if r.name == LOGGER and r.levelno == logging.WARNING]
            assert len(warnings) == 1, warnings
            assert f"127.0.0.1:{server.port}" in warnings[0]
            assert "fallback" in warnings[0]

            server.start()
            await _wait_until_back(store)
            assert any("reachable again" in r.getMessage() for r in caplog.records
                       if r.name == LOGGER and r.levelno == logging.INFO)
            await store.push(memory("after"), max_turns=10, ttl_seconds=DAY)
            # The restarted server kept nothing; the outage's turns were copied back to it.
            assert [Memory.model_validate_json(item).content
                    for item in await raw.lrange(key, 0, -1)] == [
                "during0", "during1", "during2", "after"]
            assert _contents(await store.recent("alice", "s1", limit=10)) == [
                "after", "during2", "during1", "during0"]
            assert 0 < await raw.pttl(key) <= DAY * 1000
    finally:
        await store.close()


async def test_deletes_made_during_an_outage_reach_redis(
    server: PrivateRedis, raw: aioredis.Redis
) -> None:
    store = _store(server.url, "forget")
    await store.open()
    try:
        with anyio.fail_after(TEST_DEADLINE):
            kept, deleted = memory("kept"), memory("deleted")
            other = memory("other agent", session="s2", agent_id="cursor")
            for turn in (kept, deleted, other):
                await store.push(turn, max_turns=10, ttl_seconds=DAY)
            await raw.save()  # the restarted server loads this snapshot
            server.stop()

            await store.delete("alice", deleted.id)
            assert await store.clear("alice", agent_id="cursor") == 0  # none in this process
            await store.push(memory("during"), max_turns=10, ttl_seconds=DAY)

            server.start()
            assert await raw.llen("forget:wm:{alice}:s:s1") == 2  # the snapshot is back
            await _wait_until_back(store)
            assert _contents(await store.recent("alice", "s1", limit=10)) == ["during", "kept"]
            assert await store.recent("alice", "s2", limit=10) == []
            assert await raw.zrange("forget:wm:{alice}:sessions", 0, -1) == ["s1"]
    finally:
        await store.close()


async def test_open_does_not_fail_when_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    port = free_port()  # nothing listens there
    store = _store(f"redis://127.0.0.1:{port}/0", "down")
    with anyio.fail_after(TEST_DEADLINE):
        await store.open()
        try:
            assert [r.getMessage() for r in caplog.records if r.name == LOGGER]
            assert f"127.0.0.1:{port}" in caplog.records[-1].getMessage()
            status = await store.status()
            assert (status.ok, status.detail) == (False, FALLBACK_DETAIL)
            one = memory("one", agent_id="claude")
            await store.push(one, max_turns=5, ttl_seconds=DAY)
            await store.push(memory("two"), max_turns=5, ttl_seconds=DAY)
            assert _contents(await store.recent("alice", "s1", limit=5)) == ["two", "one"]
            assert await store.clear("alice", agent_id="claude") == 1
            assert await store.clear("alice") == 1
            assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
        finally:
            await store.close()


async def _replica_pushes(store: RedisWorkingStore, turns: list[Memory], max_turns: int,
                          *, one_by_one: bool) -> None:
    if one_by_one:
        for turn in turns:
            await store.push(turn, max_turns=max_turns, ttl_seconds=DAY)
        return
    async with anyio.create_task_group() as group:
        for turn in turns:
            group.start_soon(partial(store.push, turn, max_turns=max_turns, ttl_seconds=DAY))


@pytest.mark.parametrize("one_by_one", [False, True], ids=["all-at-once", "one-by-one"])
async def test_two_replicas_pushing_to_one_session(
    server: PrivateRedis, raw: aioredis.Redis, one_by_one: bool
) -> None:
    replicas = [_store(server.url, "race"), _store(server.url, "race")]
    for replica in replicas:
        await replica.open()
    try:
        with anyio.fail_after(TEST_DEADLINE):
            for session, max_turns in (("big", 1000), ("small", 10)):
                key = f"race:wm:{{alice}}:s:{session}"
                turns = [[memory(f"{name}{i}", session=session) for i in range(50)]
                         for name in ("a", "b")]
                longest = 0
                done = anyio.Event()

                async def watch(key: str = key, done: anyio.Event = done) -> None:
                    nonlocal longest
                    while not done.is_set():
                        longest = max(longest, await raw.llen(key))

                async with anyio.create_task_group() as group:
                    group.start_soon(watch)
                    async with anyio.create_task_group() as writers:
                        for replica, mine in zip(replicas, turns, strict=True):
                            writers.start_soon(partial(_replica_pushes, replica, mine, max_turns,
                                                       one_by_one=one_by_one))
                    done.set()

                got = await replicas[0].recent("alice", session, limit=1000)
                pushed = {t.id for mine in turns for t in mine}
                assert len(got) == min(100, max_turns)
                assert len({m.id for m in got}) == len(got)
                assert {m.id for m in got} <= pushed
                assert await raw.llen(key) == len(got)
                assert longest <= max_turns
                if one_by_one:  # each replica's surviving turns are its newest, in order
                    for mine in turns:
                        ids = [t.id for t in mine]
                        kept = [m.id for m in reversed(got) if m.id in set(ids)]
                        assert kept == ids[len(ids) - len(kept):]
                assert [m.id for m in await replicas[1].recent("alice", session, limit=1000)
                        ] == [m.id for m in got]
    finally:
        for replica in replicas:
            await replica.close()


async def test_ids_with_separators_never_share_a_key(server: PrivateRedis) -> None:
    store = _store(server.url, "keys")
    await store.open()
    try:
        pairs = [("a:b", "c"), ("a", "b:c"), ("a%3Ab", "c"), ("{a}", "b"), ("a", "}b")]
        for user, session in pairs:
            await store.push(memory(f"{user}|{session}", user=user, session=session),
                             max_turns=5, ttl_seconds=DAY)
        for user, session in pairs:
            assert _contents(await store.recent(user, session, limit=5)) == [
                f"{user}|{session}"]
        assert await store.clear("a") == 2
        assert await store.clear("a:b") == 1
    finally:
        await store.close()


async def test_other_redis_errors_raise_store_unavailable(
    server: PrivateRedis, raw: aioredis.Redis
) -> None:
    store = _store(server.url, "wrong")
    await store.open()
    try:
        await raw.set("wrong:wm:{alice}:s:s1", "not a list")
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{server.port}") as caught:
            await store.push(memory("x"), max_turns=5, ttl_seconds=DAY)
        assert caught.value.__cause__ is not None
        assert (await store.status()).ok  # Redis is up: no fallback for this
    finally:
        await store.close()


def test_url_prefix_and_location() -> None:
    prefix, connect, location = parse_url(
        "redis://:secret@cache.internal:6380/2?prefix=app.v1:mem&socket_timeout=3")
    assert (prefix, location) == ("app.v1:mem", "cache.internal:6380/2")
    assert "prefix" not in connect
    assert "socket_timeout=3" in connect
    assert parse_url("rediss://localhost")[0::2] == ("memvault", "localhost:6379/0")
    for bad in ("bad prefix", "", "x" * 65, "a*b", "{a}"):
        with pytest.raises(ConfigError, match="prefix"):
            RedisWorkingStore(f"redis://localhost/0?prefix={bad}")
    assert isinstance(open_working("redis://localhost:6379/0"), RedisWorkingStore)


async def test_a_restart_between_calls_goes_unnoticed(
    server: PrivateRedis, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    store = _store(server.url, "restart")
    await store.open()
    try:
        with anyio.fail_after(TEST_DEADLINE):
            await store.push(memory("before"), max_turns=5, ttl_seconds=DAY)
            server.stop()
            server.start()
            # The pooled connection is dead; the first call reconnects instead of falling back.
            await store.push(memory("after"), max_turns=5, ttl_seconds=DAY)
            assert await raw.llen("restart:wm:{alice}:s:s1") == 1
            assert (await store.status()).ok
            assert not [r for r in caplog.records if r.name == LOGGER]
    finally:
        await store.close()
