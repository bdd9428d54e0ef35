"""The Redis working store, on the server named by ``MEMVAULT_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``). Each test gets a key prefix derived from its ``tmp_path``, so
two handles on one path share a namespace; the prefix's keys are deleted before the first
handle opens and after the last one closes."""

from __future__ import annotations

import hashlib
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from memvault.stores.redis.working import RedisWorkingStore, parse_url
from tests.services import unavailable

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_open_handles: Counter[str] = Counter()


def redis_url() -> str:
    return os.environ.get("MEMVAULT_TEST_REDIS_URL", DEFAULT_URL)


def prefix_for(tmp_path: Path) -> str:
    digest = hashlib.sha256(f"{socket.gethostname()}:{tmp_path}".encode()).hexdigest()
    return f"mvtest.{digest[:20]}"


def with_prefix(url: str, prefix: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({"prefix": prefix})) if q)
    return urlunsplit(parts._replace(query=query))


async def delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)


@asynccontextmanager
async def _redis(tmp_path: Path) -> AsyncIterator[RedisWorkingStore]:
    url = redis_url()
    prefix = prefix_for(tmp_path)
    _, connect_url, location = parse_url(url)
    raw = aioredis.Redis.from_url(connect_url, socket_connect_timeout=2.0, socket_timeout=5.0)
    try:
        try:
            await raw.ping()
        except (RedisError, OSError) as exc:
            unavailable("Redis", f"{location}: {exc}")
        if _open_handles[prefix] == 0:
            await delete_prefix(raw, prefix)
        store = RedisWorkingStore(with_prefix(url, prefix))
        await store.open()
        _open_handles[prefix] += 1
        try:
            status = await store.status()
            assert status.ok, f"Redis answered a ping but the store is not using it: {status}"
            yield store
        finally:
            _open_handles[prefix] -= 1
            await store.close()
            if _open_handles[prefix] == 0:
                del _open_handles[prefix]
                await delete_prefix(raw, prefix)
    finally:
        await raw.aclose()


WORKING = {"redis": _redis}
