"""Hostile data planted straight into the stores, and the checks that reads stay whole.

The read contract these helpers pin: whatever a store holds, reading it never fails. A string
that is not valid Unicode (a lone surrogate, kept as a JSON escape or as the bytes ED A0 80
that no UTF-8 decoder accepts) comes back with each bad character replaced by U+FFFD; NUL and
U+FFFF are valid characters and come back as stored; a non-finite number comes back as a
finite number or null; metadata nested thousands of levels deep, a 2 MB content or profile
value and a profile of more keys than an add may create are read, not refused.

A :class:`Stores` names where each role lives (SQLite in ``tmp_path / "m.db"`` unless a
server store is chosen); :func:`hostile_stores` provides one for a backend on a fresh
namespace, and :func:`plant` seeds ordinary data through the SDK, then overwrites it with
hostile values by each store's own driver (raw ``sqlite3``, ``asyncpg``, ``redis``, FalkorDB
queries), where the store API would refuse them. The returned :class:`Hostile` checks what a
read returns, as plain JSON-like data: the SDK's models dumped, or a REST or MCP answer.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

from memvault import Memvault
from tests.services import port_open, unavailable

__all__ = [
    "BACKENDS",
    "SESSION",
    "TOO_EARLY",
    "TOO_LATE",
    "USER",
    "Backend",
    "Hostile",
    "Stores",
    "assert_clean",
    "forged_cursor",
    "hostile_stores",
    "plant",
    "strict_json",
]

Backend = Literal["sqlite", "postgres", "redis", "falkordb"]
#: Which role each backend hosts; ``sqlite`` hosts all three.
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgres", "redis", "falkordb")

USER = "alice"
SESSION = "s1"
OTHER_SESSION = "s2"
#: U+D800 as WTF-8 bytes: what a lone surrogate looks like once written as raw text.
SURROGATE_BYTES = b"\xed\xa0\x80"
DEEP = 5_000
# Long, and still under the MCP client's 1 MiB limit on one server-sent event.
LONG = 200_000
#: Dates that leave Python's range once converted to UTC.
TOO_EARLY = "0001-01-01T00:00:00+01:00"
TOO_LATE = "9999-12-31T23:59:59-01:00"

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"

Check = Callable[[dict[str, Any]], None]
ValueCheck = Callable[[Any], None]


# -- checks ------------------------------------------------------------------------------------

def _is_surrogate(char: str) -> bool:
    return 0xD800 <= ord(char) <= 0xDFFF


def assert_clean(value: object, where: str = "answer") -> None:
    """No lone surrogate in any string or key of ``value``, no NaN or infinity."""
    if isinstance(value, str):
        bad = [i for i, c in enumerate(value) if _is_surrogate(c)]
        assert not bad, f"{where} holds a lone surrogate at index {bad[0]}: {value[:80]!r}"
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where} is {value}, which is not JSON"
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_clean(key, f"a key of {where}")
            assert_clean(item, f"{where}.{key}"[:200])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            assert_clean(item, f"{where}[{index}]")


def strict_json(text: str) -> Any:
    """Parse JSON as a strict consumer does: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"the answer holds {name}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


def _replaced(prefix: str, suffix: str = "") -> ValueCheck:
    """A string that kept ``prefix`` and ``suffix`` and has only U+FFFD between them."""

    def check(value: Any) -> None:
        assert isinstance(value, str), value
        assert value.startswith(prefix), value[:200]
        assert value.endswith(suffix), value[-200:]
        middle = value[len(prefix):len(value) - len(suffix)]
        assert middle, f"the bad characters of {value!r} were dropped, not replaced"
        assert set(middle) == {"\ufffd"}, (
            f"expected U+FFFD in place of the bad characters, got {middle!r}")

    return check


def _equals(expected: Any) -> ValueCheck:
    def check(value: Any) -> None:
        assert value == expected, f"{str(value)[:200]!r} != {str(expected)[:200]!r}"

    return check


def _anything(value: Any) -> None:
    return None


@dataclass
class Hostile:
    """What a read of the planted data must return. ``memories`` checks each memory's JSON
    form by id, ``facts`` each profile value by a test on its key, ``working`` each turn of
    :data:`SESSION` by memory id (``optional_turns`` may be dropped as unreadable)."""

    memories: dict[str, Check] = field(default_factory=dict)
    facts: dict[str, tuple[Callable[[str], bool], ValueCheck]] = field(default_factory=dict)
    working: dict[str, Check] = field(default_factory=dict)
    optional_turns: set[str] = field(default_factory=set)
    min_facts: int = 0

    def check_memories(self, items: list[dict[str, Any]], *, complete: bool) -> None:
        """``items`` are memories as dicts (``content``, ``metadata``, ``session_id``...);
        with ``complete`` every planted memory must be among them."""
        assert_clean(items, "memories")
        by_id = {item["id"]: item for item in items}
        for memory_id, check in self.memories.items():
            if memory_id in by_id:
                check(by_id[memory_id])
            else:
                assert not complete, f"memory {memory_id} is missing from the answer"

    def check_profile(self, facts: list[dict[str, Any]]) -> None:
        assert_clean(facts, "profile")
        assert len(facts) >= self.min_facts, f"{len(facts)} facts, expected {self.min_facts}+"
        for name, (matches, check) in self.facts.items():
            found = [f for f in facts if isinstance(f.get("key"), str) and matches(f["key"])]
            assert found, f"the fact {name!r} is missing from the profile"
            check(found[0]["value"])

    def check_working(self, turns: list[dict[str, Any]], *, complete: bool = True) -> None:
        assert_clean(turns, "working memory")
        by_id = {turn["id"]: turn for turn in turns}
        for memory_id, check in self.working.items():
            if memory_id in by_id:
                check(by_id[memory_id])
            else:
                assert not complete or memory_id in self.optional_turns, (
                    f"the turn {memory_id} is missing from working memory")


def _content(check: ValueCheck) -> Check:
    return lambda memory: check(memory["content"])


def _metadata(check: Callable[[dict[str, Any]], None]) -> Check:
    def run(memory: dict[str, Any]) -> None:
        assert isinstance(memory["metadata"], dict), memory["metadata"]
        check(memory["metadata"])

    return run


def _surrogate_metadata(metadata: dict[str, Any]) -> None:
    _replaced("")(metadata.get("a"))
    assert any(set(k) == {"\ufffd"} and v == 1 for k, v in metadata.items()), metadata


def forged_cursor(real: str, moment: str | None = None, memory_id: str | None = None) -> str:
    """``real`` (a cursor list_memories returned) pointing at ``moment`` and ``memory_id``
    instead (each kept when not given): cursors are URL-safe base64 of a JSON ``[occurred_at,
    id]`` today. A cursor format that cannot be forged this way must refuse the result all
    the same (it is not a cursor it issued)."""
    try:
        at, issued = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    except ValueError:
        return real[:-4] + "AAAA"
    raw = json.dumps([moment or at, issued if memory_id is None else memory_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- where the data lives ----------------------------------------------------------------------

@dataclass
class Stores:
    database: Path
    episodic_url: str | None = None
    profile_url: str | None = None
    working_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Memvault.open` (with the database as ``database``)."""
        found = {"database": str(self.database), "episodic_url": self.episodic_url,
                 "profile_url": self.profile_url, "working_url": self.working_url}
        return {k: v for k, v in found.items() if v is not None}

    def env(self) -> dict[str, str]:
        """The ``MEMVAULT_*`` variables that point a ``memvault`` process at these stores
        (its ``--database`` names the SQLite file)."""
        found = {"MEMVAULT_EPISODIC_URL": self.episodic_url,
                 "MEMVAULT_PROFILE_URL": self.profile_url,
                 "MEMVAULT_WORKING_URL": self.working_url}
        return {k: v for k, v in found.items() if v is not None}


def _tag(tmp_path: Path) -> str:
    return "hostile_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]


@contextlib.asynccontextmanager
async def hostile_stores(backend: Backend, tmp_path: Path) -> AsyncIterator[Stores]:
    """Stores for ``backend`` on a fresh namespace, emptied afterwards; the database file is
    always ``tmp_path / "m.db"`` (where ``running_server`` and ``stdio_session`` look)."""
    stores = Stores(database=tmp_path / "m.db")
    tag = _tag(tmp_path)
    if backend == "sqlite":
        yield stores
    elif backend == "postgres":
        async with _postgres_schema(tag) as url:
            stores.profile_url = url
            stores.extra = {"schema": tag}
            yield stores
    elif backend == "redis":
        async with _redis_prefix(tag) as url:
            stores.working_url = url
            stores.extra = {"prefix": tag}
            yield stores
    else:
        async with _falkordb_graph(tag) as url:
            stores.episodic_url = url
            stores.extra = {"graph": tag}
            yield stores


@contextlib.asynccontextmanager
async def _postgres_schema(schema: str) -> AsyncIterator[str]:
    try:
        import asyncpg  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        unavailable("PostgreSQL", f"asyncpg is not installed ({exc})")
        raise AssertionError("unreachable") from exc
    if not port_open("127.0.0.1", 5432):
        unavailable("PostgreSQL", "nothing listens on 127.0.0.1:5432")

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES, timeout=10)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    await drop()
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        await drop()


@contextlib.asynccontextmanager
async def _redis_prefix(prefix: str) -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    if not port_open("127.0.0.1", 6379):
        unavailable("Redis", "nothing listens on 127.0.0.1:6379")
    client = aioredis.Redis.from_url(REDIS)

    async def drop() -> None:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)

    try:
        await drop()
        yield f"{REDIS}?prefix={prefix}"
    finally:
        await drop()
        await client.aclose()


@contextlib.asynccontextmanager
async def _falkordb_graph(graph: str) -> AsyncIterator[str]:
    from tests.stores.falkordb_server import shared_server

    server = await anyio.to_thread.run_sync(shared_server)
    if isinstance(server, str):
        unavailable("FalkorDB", server)
        raise AssertionError("unreachable")
    import redis.asyncio as aioredis

    client = aioredis.Redis(host=server.host, port=server.port)
    try:
        await client.delete(graph)
        yield server.url(graph)
    finally:
        await client.delete(graph)
        await client.aclose()


# -- planting ----------------------------------------------------------------------------------

#: name -> (content, session, metadata) of the seeded memories, oldest first.
_SEED: dict[str, tuple[str, str | None, dict[str, Any] | None]] = {
    "anna": ("Anna likes tea", SESSION, None),
    "bob": ("Bob likes tea", SESSION, None),
    "cleo": ("Cleo likes tea", SESSION, None),
    "dan": ("Dan likes tea", None, None),
    "eve": ("Eve likes tea", None, {"a": "x"}),
    "fay": ("Fay likes tea", None, {"d": 1}),
    "gus": ("Gus likes tea", None, {"n": 1}),
    "hal": ("Hal likes tea", OTHER_SESSION, None),
}
_FACTS = {"city": "Lisbon", "bio": "b", "deep": "d", "score": 1, "glyph": "g",
          "shape": "s", "kx": "plain"}


async def _seed(stores: Stores) -> dict[str, str]:
    ids: dict[str, str] = {}
    async with Memvault.open(**stores.settings(), user_id=USER, embedder="none") as mv:
        for name, (content, session, metadata) in _SEED.items():
            memory = await mv.add(content, session_id=session, metadata=metadata)
            ids[name] = memory.id
        await mv.set_profile(_FACTS)
    return ids


async def plant(stores: Stores, backend: Backend) -> Hostile:
    """Seed ordinary data, then overwrite it with hostile values in ``backend``'s stores."""
    ids = await _seed(stores)
    hostile = Hostile()
    if backend == "sqlite":
        await anyio.to_thread.run_sync(_sqlite, stores.database, ids, hostile)
    elif backend == "postgres":
        await _postgres(stores, hostile)
    elif backend == "redis":
        await _redis(stores, ids, hostile)
    else:
        await _falkordb(stores, ids, hostile)
    return hostile


def _deep(levels: int = DEEP) -> str:
    return "[" * levels + "]" * levels


def _sqlite(path: Path, ids: dict[str, str], hostile: Hostile) -> None:
    long = "Dan likes tea " + "d" * LONG
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        def memory(name: str, column: str, value: object, as_text: bool = False) -> None:
            cast = "CAST(? AS TEXT)" if as_text else "?"
            conn.execute(f"UPDATE memories SET {column} = {cast} WHERE id = ?",
                         (value, ids[name]))

        memory("anna", "content", b"Anna likes tea " + SURROGATE_BYTES + b" today", True)
        memory("anna", "entities", '["\\ud800"]')
        memory("bob", "content", "Bob likes tea \x00 nul")
        memory("cleo", "content", "Cleo likes tea \uffff")
        memory("dan", "content", long)
        memory("eve", "metadata", '{"a": "\\ud800", "\\udfff": 1}')
        memory("fay", "metadata", '{"d": ' + _deep() + "}")
        memory("gus", "metadata", '{"n": NaN, "i": -Infinity}')
        memory("hal", "session_id", b"s2" + SURROGATE_BYTES, True)

        def fact(key: str, column: str, value: object, as_text: bool = False) -> None:
            cast = "CAST(? AS TEXT)" if as_text else "?"
            conn.execute(f"UPDATE profile_facts SET {column} = {cast}"
                         " WHERE user_id = ? AND key = ?", (value, USER, key))

        fact("city", "value", '"\\ud800"')
        fact("bio", "value", json.dumps("b" * LONG))
        fact("deep", "value", _deep())
        fact("score", "value", "NaN")
        fact("glyph", "value", '"\\uffff"')
        fact("kx", "key", b"kx" + SURROGATE_BYTES, True)

        rows = dict(conn.execute("SELECT memory_id, payload FROM working_turns"
                                 " WHERE user_id = ?", (USER,)).fetchall())
        turn = json.loads(rows[ids["anna"]])
        turn["content"] = "Anna \ud800 turn"
        conn.execute("UPDATE working_turns SET payload = ? WHERE memory_id = ?",
                     (json.dumps(turn), ids["anna"]))
        raw = json.dumps({**json.loads(rows[ids["bob"]]), "content": "Bob @@ turn"}).encode()
        conn.execute("UPDATE working_turns SET payload = CAST(? AS TEXT) WHERE memory_id = ?",
                     (raw.replace(b"@@", SURROGATE_BYTES), ids["bob"]))

    hostile.memories = {
        ids["anna"]: _content(_replaced("Anna likes tea ", " today")),
        ids["bob"]: _content(_equals("Bob likes tea \x00 nul")),
        ids["cleo"]: _content(_equals("Cleo likes tea \uffff")),
        ids["dan"]: _content(_equals(long)),
        ids["eve"]: _metadata(_surrogate_metadata),
        ids["fay"]: _metadata(_anything),
        ids["gus"]: _metadata(_anything),
        ids["hal"]: lambda m: _replaced("s2")(m["session_id"]),
    }
    hostile.facts = {
        "city": (lambda k: k == "city", _replaced("")),
        "bio": (lambda k: k == "bio", _equals("b" * LONG)),
        "deep": (lambda k: k == "deep", _anything),
        "score": (lambda k: k == "score", _anything),
        "glyph": (lambda k: k == "glyph", _equals("\uffff")),
        "kx": (lambda k: k.startswith("kx") and set(k[2:]) == {"\ufffd"}, _equals("plain")),
    }
    hostile.working = {
        ids["anna"]: _content(_replaced("Anna ", " turn")),
        ids["bob"]: _content(_replaced("Bob ", " turn")),
        ids["cleo"]: _content(_equals("Cleo likes tea")),
    }
    hostile.min_facts = len(_FACTS)


async def _postgres(stores: Stores, hostile: Hostile) -> None:
    import asyncpg  # type: ignore[import-untyped, unused-ignore]

    schema = stores.extra["schema"]
    table = f'"{schema}".profile_facts'
    long_key = "k" * 10_000
    conn = await asyncpg.connect(POSTGRES, timeout=10)
    try:
        async def value(key: str, text: str) -> None:
            await conn.execute(f"UPDATE {table} SET value = $1::jsonb WHERE user_id = $2"
                               " AND key = $3", text, USER, key)

        await value("bio", json.dumps("b" * LONG))
        await value("deep", _deep())
        await value("glyph", '"\\uffff"')
        await value("shape", '{"a": {"b": [1, {"c": null}]}}')
        await conn.execute(f"UPDATE {table} SET key = $1 WHERE user_id = $2 AND key = 'kx'",
                           long_key, USER)
        template = await conn.fetchrow(f"SELECT * FROM {table} WHERE user_id = $1 LIMIT 1",
                                       USER)
        rows = [(f"extra-{i:05}", f"k{i:05}") for i in range(1_500)]
        await conn.executemany(
            f"INSERT INTO {table} (id, user_id, key, value, category, source_memory_ids,"
            " agent_id, valid_from, valid_to) VALUES ($1, $2, $3, '\"v\"', 'general',"
            " '{}', NULL, $4, NULL)",
            [(fid, USER, key, template["valid_from"]) for fid, key in rows],
        )
    finally:
        await conn.close()
    hostile.facts = {
        "bio": (lambda k: k == "bio", _equals("b" * LONG)),
        "deep": (lambda k: k == "deep", _anything),
        "glyph": (lambda k: k == "glyph", _equals("\uffff")),
        "shape": (lambda k: k == "shape", _anything),
        "long key": (lambda k: k == long_key, _equals("plain")),
        "city": (lambda k: k == "city", _equals("Lisbon")),
    }
    hostile.min_facts = len(_FACTS) + 1_500


async def _redis(stores: Stores, ids: dict[str, str], hostile: Hostile) -> None:
    import redis.asyncio as aioredis

    prefix = stores.extra["prefix"]
    client: Any = aioredis.Redis.from_url(REDIS)  # bytes in and out
    try:
        lists = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)
                 if await client.type(key) == b"list"]
        for key in lists:
            for index, raw in enumerate(await client.lrange(key, 0, -1)):
                turn = json.loads(raw)
                if turn["id"] == ids["anna"]:
                    turn["content"] = "Anna \ud800 turn"
                    await client.lset(key, index, json.dumps(turn))
                    await client.rpush(key, b"not a turn \xff")
                elif turn["id"] == ids["bob"]:
                    bob = json.dumps({**turn, "content": "Bob @@ turn"}).encode()
                    await client.lset(key, index, bob.replace(b"@@", SURROGATE_BYTES))
                elif turn["id"] == ids["cleo"]:
                    turn["metadata"] = {"d": None}
                    deep = json.dumps(turn).replace('{"d": null}', '{"d": ' + _deep() + "}")
                    await client.lset(key, index, deep)
    finally:
        await client.aclose()
    hostile.working = {
        ids["anna"]: _content(_replaced("Anna ", " turn")),
        ids["bob"]: _content(_replaced("Bob ", " turn")),
        ids["cleo"]: _anything,
    }
    hostile.optional_turns = {ids["cleo"]}


async def _falkordb(stores: Stores, ids: dict[str, str], hostile: Hostile) -> None:
    import redis.asyncio as aioredis
    from falkordb.asyncio.graph import AsyncGraph

    from tests.stores.falkordb_server import shared_server

    server = shared_server()
    assert not isinstance(server, str), server
    long = "Dan likes tea " + "d" * LONG
    client: Any = aioredis.Redis(host=server.host, port=server.port, decode_responses=True)
    graph = AsyncGraph(client, stores.extra["graph"])
    try:
        async def memory(name: str, prop: str, value: str) -> None:
            await graph.query(f"MATCH (m) WHERE m.id = $id SET m.{prop} = $value",
                              {"id": ids[name], "value": value})

        await memory("anna", "entities", '["\\ud800"]')
        await memory("cleo", "content", "Cleo likes tea \uffff")
        await memory("dan", "content", long)
        await memory("eve", "metadata", '{"a": "\\ud800", "\\udfff": 1}')
        await memory("fay", "metadata", '{"d": ' + _deep() + "}")
        await memory("gus", "metadata", '{"n": NaN, "i": -Infinity}')
        # Parameters travel as text; raw bytes need the query itself to carry them.
        query = (f"MATCH (m) WHERE m.id = '{ids['bob']}' SET m.content = 'Bob likes tea @@"
                 " today'").encode().replace(b"@@", SURROGATE_BYTES)
        await client.execute_command("GRAPH.QUERY", stores.extra["graph"], query)
    finally:
        await client.aclose()
    hostile.memories = {
        ids["bob"]: _content(_replaced("Bob likes tea ", " today")),
        ids["cleo"]: _content(_equals("Cleo likes tea \uffff")),
        ids["dan"]: _content(_equals(long)),
        ids["eve"]: _metadata(_surrogate_metadata),
        ids["fay"]: _metadata(_anything),
        ids["gus"]: _metadata(_anything),
        ids["anna"]: _content(_equals("Anna likes tea")),
    }
