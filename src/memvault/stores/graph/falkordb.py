"""The episodic store on FalkorDB: ``falkordb://[user:password@]host[:port][/graph]``.

The graph (default ``memvault``) is the namespace: each graph holds its own memories and
indexes. Query options: ``connect_timeout`` and ``timeout`` (seconds; defaults 5 and 60).

Full-text search is FalkorDB's RediSearch index (English stemming, no stop words) of each
memory's analysed text (:mod:`memvault.analysis`: CJK bigrams, script changes split), vector
search its HNSW index with cosine distance. Connections are redis-py's pool: after a lost
connection the next call reconnects (retried twice with a short backoff), so a restarted server
serves again without reopening the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import redis.asyncio as aioredis
from falkordb.asyncio.graph import AsyncGraph  # type: ignore[import-untyped, unused-ignore]
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from memvault.errors import ConfigError, InvalidInput
from memvault.stores.crypto import KeySet
from memvault.stores.graph.cypher import CypherEpisodicStore
from memvault.stores.graph.dialect import (
    Dialect,
    Labels,
    Row,
    Statement,
    check_name,
    url_seconds,
    words,
)

__all__ = ["FalkorDialect", "FalkorEpisodicStore", "parse_falkordb_url"]

DEFAULT_PORT = 6379
DEFAULT_GRAPH = "memvault"

# Schema errors that mean "already as wanted".
_ALREADY = ("already indexed", "already exists", "no such index")


class FalkorDialect(Dialect):
    """FalkorDB: RediSearch full-text and HNSW vector indexes, parameters sent in the
    ``CYPHER name=value`` header of each query."""

    backend = "falkordb"
    fulltext_call = "CALL db.idx.fulltext.queryNodes($fulltext_index, query) YIELD node, score"
    vector_call = (
        "CALL db.idx.vector.queryNodes($vector_index, 'embedding', $k, vecf32($vector))"
        " YIELD node, score"
    )
    similarity = "1.0 - score"  # FalkorDB yields the cosine distance
    vector_value = "vecf32(item.vector)"

    def __init__(
        self,
        host: str,
        port: int,
        graph: str,
        *,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 60.0,
    ) -> None:
        self.host = host
        self.port = port
        self.graph_name = check_name(graph, "FalkorDB graph name")
        self.labels = Labels()
        self.location = f"falkordb://{host}:{port}/{graph}"
        self._username = username
        self._password = password
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._client: aioredis.Redis | None = None
        self._graph: Any = None

    # -- query language ---------------------------------------------------------------------

    def exists(self, pattern: str) -> str:
        return pattern

    def fulltext_query(self, term: str) -> str | None:
        # RediSearch syntax: bare words only, so no operator, prefix, field or escape can be
        # formed; the words of one term must all match (a space is an intersection).
        found = words(term)
        return " ".join(found) if found else None

    def index_params(self) -> dict[str, Any]:
        return {
            "fulltext_index": self.labels.of("Memory"),
            "vector_index": self.labels.of("Embedding"),
        }

    # -- schema -----------------------------------------------------------------------------

    def schema(self) -> list[Statement]:
        return [
            Statement("CREATE INDEX FOR (m:Memory) ON (m.id)"),
            Statement("CREATE INDEX FOR (m:Memory) ON (m.user_id)"),
            Statement("CREATE INDEX FOR (m:Memory) ON (m.session_id)"),
            Statement("CREATE INDEX FOR (e:Entity) ON (e.name)"),
            Statement("CREATE INDEX FOR (s:Session) ON (s.id)"),
            Statement("CREATE INDEX FOR (u:User) ON (u.id)"),
            Statement("CREATE INDEX FOR (x:Meta) ON (x.key)"),
            Statement("CREATE INDEX FOR (m:Memory) ON (m.idempotency_key)"),
            Statement("CREATE INDEX FOR (p:Pending) ON (p.memory_id)"),
            # the full-text index comes with the analysed text: fulltext_index()
        ]

    def fulltext_index(self) -> list[Statement]:
        label = self.labels.of("Memory")
        return [
            Statement("CALL db.idx.fulltext.drop($label)", {"label": label}),
            Statement(
                "CALL db.idx.fulltext.createNodeIndex("
                "{label: $label, stopwords: [], language: 'english'}, 'text')",
                {"label": label},
            ),
        ]

    def vector_index(self, dimensions: int | None) -> list[Statement]:
        drop = [Statement("DROP VECTOR INDEX FOR (v:Embedding) ON (v.embedding)")]
        return drop if dimensions is None else drop + self.ensure_vector_index(dimensions)

    def ensure_vector_index(self, dimensions: int) -> list[Statement]:
        return [
            Statement(
                "CREATE VECTOR INDEX FOR (v:Embedding) ON (v.embedding)"
                " OPTIONS {dimension: $dimensions, similarityFunction: 'cosine'}",
                {"dimensions": int(dimensions)},
            )
        ]

    # -- driver -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._client is not None:
            return
        self._client = aioredis.Redis(
            host=self.host,
            port=self.port,
            username=self._username,
            password=self._password,
            decode_responses=True,
            encoding_errors="replace",  # stored text that is not UTF-8 still reads
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._timeout,
            retry=Retry(
                ExponentialBackoff(cap=0.5, base=0.05), 2, supported_errors=(RedisConnectionError,)
            ),
        )
        # The graph object only needs ``execute_command``: this avoids falkordb.FalkorDB's
        # blocking probe of the server at construction.
        self._graph = AsyncGraph(self._client, self.graph_name)

    async def close(self) -> None:
        client, self._client, self._graph = self._client, None, None
        if client is not None:
            await client.aclose()

    @contextmanager
    def _faults(self, *, tolerate: Sequence[str] = ()) -> Iterator[None]:
        """Map the driver's errors in the block to :class:`StoreUnavailable` naming the server
        and what went wrong; an error reply whose text holds one of ``tolerate`` is dropped
        (a schema step that is already as wanted)."""
        try:
            yield
        except (RedisError, OSError) as exc:
            if isinstance(exc, ResponseError) and any(text in str(exc) for text in tolerate):
                return
            if isinstance(exc, RedisConnectionError | OSError):
                detail = f"cannot reach the FalkorDB server at {self.host}:{self.port}: {exc}"
            elif isinstance(exc, RedisTimeoutError):
                detail = (f"the FalkorDB server at {self.host}:{self.port} did not answer in"
                          f" time: {exc}")
            else:
                detail = f"FalkorDB at {self.host}:{self.port} answered with an error: {exc}"
            raise self.unavailable(detail) from exc

    def _active_graph(self) -> Any:
        if self._graph is None:
            raise self.unavailable("the store is not open")
        return self._graph

    async def run(self, statements: Sequence[Statement], *, write: bool) -> list[list[Row]]:
        graph = self._active_graph()
        results: list[list[Row]] = []
        for statement in statements:
            _refuse_nul(statement.params)
            with self._faults():
                if write:
                    result = await graph.query(statement.cypher, statement.params)
                else:
                    result = await graph.ro_query(statement.cypher, statement.params)
            results.append([list(row) for row in result.result_set])
        return results

    async def run_schema(self, statements: Sequence[Statement]) -> None:
        graph = self._active_graph()
        for statement in statements:
            with self._faults(tolerate=_ALREADY):
                await graph.query(statement.cypher, statement.params)

    async def drop_namespace(self) -> None:
        graph = self._active_graph()
        with self._faults(tolerate=("empty key",)):  # a graph never written to
            await graph.delete()


def _refuse_nul(value: object) -> None:
    """FalkorDB reads parameters as C strings: a NUL would cut the query short."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("a value sent to FalkorDB contains a NUL character")
    elif isinstance(value, dict):
        for item in value.values():
            _refuse_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_nul(item)


def parse_falkordb_url(url: str) -> FalkorDialect:
    """``falkordb://[user:password@]host[:port][/graph][?connect_timeout=5&timeout=60]``."""
    parsed = urlparse(url)
    if parsed.scheme.lower() != "falkordb":
        raise ConfigError(f"not a FalkorDB URL: expected falkordb://host:port/graph, got {url!r}")
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"the FalkorDB URL has an invalid port: {url!r}") from None
    query = parse_qs(parsed.query)
    unknown = set(query) - {"connect_timeout", "timeout"}
    if unknown:
        raise ConfigError(
            f"unknown FalkorDB URL option(s): {', '.join(sorted(unknown))}"
            " (known: connect_timeout, timeout)"
        )
    graph = unquote(parsed.path.strip("/")) or DEFAULT_GRAPH
    return FalkorDialect(
        parsed.hostname or "localhost",
        port,
        graph,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        connect_timeout=url_seconds(query, "connect_timeout", 5.0, "FalkorDB"),
        timeout=url_seconds(query, "timeout", 60.0, "FalkorDB"),
    )


class FalkorEpisodicStore(CypherEpisodicStore):
    """Episodic memory in a FalkorDB graph (see :mod:`memvault.stores.graph.cypher`)."""

    def __init__(self, url: str, *, keys: KeySet | None = None) -> None:
        super().__init__(url, parse_falkordb_url(url), keys=keys)
