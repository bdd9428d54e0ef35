"""The PostgreSQL profile store, on the server named by ``MEMVAULT_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``).

Each test gets its own schema, named from a hash of its ``tmp_path``, so tests never see each
other's data and two handles on one ``tmp_path`` share a schema, like two server replicas. The
schema is dropped before the first handle opens (a crashed earlier run may have left it) and
after the last one closes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from memvault.stores.base import ProfileStore
from memvault.stores.registry import open_profile
from tests.services import unavailable

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

_open_handles: dict[str, int] = {}


def server_url() -> str:
    return os.environ.get("MEMVAULT_TEST_POSTGRES_URL") or DEFAULT_URL


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``schema`` query parameter set to ``schema``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    query.append(("schema", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def schema_for(tmp_path: Path) -> str:
    return "mvtest_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:20]


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


async def _drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` on the server of ``url``; skip (fail in CI) if it cannot be reached."""
    problem: str | None = None
    try:
        import asyncpg  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        problem = f"asyncpg is not installed ({exc}); pip install -e '.[postgres]'"
    else:
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k != "schema"]
        dsn = urlunsplit(parts._replace(query=urlencode(query)))
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            problem = (f"cannot connect to {_redacted(url)} ({type(exc).__name__}: {exc});"
                       " set MEMVAULT_TEST_POSTGRES_URL")
        else:
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()
    if problem is not None:
        unavailable("PostgreSQL", problem)


@asynccontextmanager
async def _postgres(tmp_path: Path) -> AsyncIterator[ProfileStore]:
    base = server_url()
    schema = schema_for(tmp_path)
    if not _open_handles.get(schema):
        await _drop_schema(base, schema)
    store = open_profile(with_schema(base, schema))
    await store.open()
    _open_handles[schema] = _open_handles.get(schema, 0) + 1
    try:
        yield store
    finally:
        await store.close()
        _open_handles[schema] -= 1
        if not _open_handles[schema]:
            del _open_handles[schema]
            await _drop_schema(base, schema)


PROFILE = {"postgres": _postgres}
