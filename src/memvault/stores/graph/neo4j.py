"""The episodic store on Neo4j 5:
``neo4j://[user:password@]host[:port][/database][?namespace=NAME]`` (also ``bolt://`` and the
``+s`` / ``+ssc`` variants, passed to the driver as they are).

``database`` defaults to the server's default database. ``namespace`` isolates several stores in
one database (Neo4j Community has one): every label gets the suffix ``_NAME`` (``Memory_NAME``)
and every index and constraint the prefix ``memvault_NAME_``, so namespaces share nothing, not
even the vector index's dimension. Without it the labels are the plain ones (``Memory``) and
the names start with ``memvault_``. Query options: ``connect_timeout`` and ``timeout`` (seconds;
how long a call retries a transient failure), defaults 5 and 15.

Full-text search is a Lucene index with the English analyzer, vector search a cosine vector
index. Each call runs in one managed transaction; the driver's pool reconnects on its own.

The contract suite runs against Neo4j only where ``MEMVAULT_TEST_NEO4J_URL`` names a server.
Worth checking there first: the vector index DDL taking ``$dimensions`` as a parameter, the
conversion of the index's score to cosine similarity (``2 * score - 1``), a full-text phrase
made only of stop words, and the ordering of concurrent adds under the sequence-node lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from memvault.errors import ConfigError
from memvault.stores.crypto import KeySet
from memvault.stores.graph.cypher import CypherEpisodicStore
from memvault.stores.graph.dialect import (
    LABELS,
    Dialect,
    Labels,
    Row,
    Statement,
    check_name,
    url_seconds,
    words,
)

__all__ = ["Neo4jDialect", "Neo4jEpisodicStore", "parse_neo4j_url"]

DEFAULT_PORT = 7687
SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
_INDEX_WAIT_SECONDS = 300
_DELETE_BATCH = 10_000


class Neo4jDialect(Dialect):
    """Neo4j 5: Lucene full-text and vector indexes, managed transactions."""

    backend = "neo4j"
    fulltext_call = "CALL db.index.fulltext.queryNodes($fulltext_index, query) YIELD node, score"
    vector_call = "CALL db.index.vector.queryNodes($vector_index, $k, $vector) YIELD node, score"
    similarity = "2.0 * score - 1.0"  # Neo4j yields (1 + cosine) / 2
    vector_value = "item.vector"

    def __init__(
        self,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        namespace: str = "",
        connect_timeout: float = 5.0,
        timeout: float = 15.0,
    ) -> None:
        self.uri = uri
        self.database = database
        self.labels = Labels(namespace)
        prefix = f"memvault_{namespace}" if namespace else "memvault"
        self._names = {
            key: check_name(f"{prefix}_{key}", "Neo4j index name (namespace too long?)")
            for key in (
                "memory_id",
                "meta_key",
                "user_id",
                "memory_user",
                "memory_session",
                "memory_key",
                "pending",
                "session",
                "entity",
                "text",
                "vector",
            )
        }
        self.location = (
            uri
            + (f"/{database}" if database else "")
            + (f"?namespace={namespace}" if namespace else "")
        )
        self._auth = auth
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._driver: AsyncDriver | None = None

    # -- query language ---------------------------------------------------------------------

    def exists(self, pattern: str) -> str:
        return f"EXISTS {{ {pattern} }}"

    def fulltext_query(self, term: str) -> str | None:
        # Lucene syntax: the term's words as one quoted phrase, so AND/OR/NOT, wildcards,
        # fields and escapes are all plain words; words() leaves no quote or backslash.
        found = words(term)
        return '"' + " ".join(found) + '"' if found else None

    def index_params(self) -> dict[str, Any]:
        return {"fulltext_index": self._names["text"], "vector_index": self._names["vector"]}

    # -- schema -----------------------------------------------------------------------------

    def schema(self) -> list[Statement]:
        n = self._names
        return [
            Statement(
                f"CREATE CONSTRAINT {n['memory_id']} IF NOT EXISTS"
                " FOR (m:Memory) REQUIRE m.id IS UNIQUE"
            ),
            Statement(
                f"CREATE CONSTRAINT {n['meta_key']} IF NOT EXISTS"
                " FOR (x:Meta) REQUIRE x.key IS UNIQUE"
            ),
            Statement(
                f"CREATE CONSTRAINT {n['user_id']} IF NOT EXISTS"
                " FOR (u:User) REQUIRE u.id IS UNIQUE"
            ),
            Statement(
                f"CREATE INDEX {n['memory_user']} IF NOT EXISTS FOR (m:Memory) ON (m.user_id)"
            ),
            Statement(
                f"CREATE INDEX {n['memory_session']} IF NOT EXISTS FOR (m:Memory) ON (m.session_id)"
            ),
            Statement(
                f"CREATE INDEX {n['memory_key']} IF NOT EXISTS"
                " FOR (m:Memory) ON (m.idempotency_key)"
            ),
            Statement(
                f"CREATE INDEX {n['pending']} IF NOT EXISTS FOR (p:Pending) ON (p.memory_id)"
            ),
            Statement(
                f"CREATE INDEX {n['session']} IF NOT EXISTS FOR (s:Session) ON (s.user_id, s.id)"
            ),
            Statement(
                f"CREATE INDEX {n['entity']} IF NOT EXISTS FOR (e:Entity) ON (e.user_id, e.name)"
            ),
            *self._text_index(),
            Statement("CALL db.awaitIndexes($seconds)", {"seconds": _INDEX_WAIT_SECONDS}),
        ]

    def _text_index(self) -> list[Statement]:
        # The analysed text (memvault.analysis) has its CJK bigrams apart: the English
        # analyzer cuts them into characters, and a query's bigram, a phrase, matches them
        # side by side; its stemming still serves English words.
        return [Statement(
            f"CREATE FULLTEXT INDEX {self._names['text']} IF NOT EXISTS"
            " FOR (m:Memory) ON EACH [m.text]"
            " OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}"
        )]

    def fulltext_index(self) -> list[Statement]:
        return [Statement(f"DROP INDEX {self._names['text']} IF EXISTS"), *self._text_index(),
                Statement("CALL db.awaitIndexes($seconds)", {"seconds": _INDEX_WAIT_SECONDS})]

    def vector_index(self, dimensions: int | None) -> list[Statement]:
        drop = [Statement(f"DROP INDEX {self._names['vector']} IF EXISTS")]
        return drop if dimensions is None else drop + self.ensure_vector_index(dimensions)

    def ensure_vector_index(self, dimensions: int) -> list[Statement]:
        name = self._names["vector"]
        return [
            Statement(
                f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (v:Embedding) ON (v.embedding)"
                " OPTIONS {indexConfig: {`vector.dimensions`: $dimensions,"
                " `vector.similarity_function`: 'cosine'}}",
                {"dimensions": int(dimensions)},
            ),
            Statement(
                "CALL db.awaitIndex($name, $seconds)",
                {"name": name, "seconds": _INDEX_WAIT_SECONDS},
            ),
        ]

    # -- driver -----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._driver is not None:
            return
        try:
            self._driver = AsyncGraphDatabase.driver(
                self.uri,
                auth=self._auth,
                connection_timeout=self._connect_timeout,
                connection_acquisition_timeout=self._connect_timeout + self._timeout,
                max_transaction_retry_time=self._timeout,
            )
        except (Neo4jError, DriverError, ValueError) as exc:
            raise ConfigError(f"cannot use the Neo4j URL {self.location}: {exc}") from exc

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Map the driver's errors in the block to :class:`StoreUnavailable` naming the server
        and whether it could not be reached or answered with an error."""
        try:
            yield
        except (Neo4jError, DriverError, OSError) as exc:
            if isinstance(exc, ServiceUnavailable | SessionExpired | OSError):
                detail = f"cannot reach the Neo4j server: {exc}"
            else:
                detail = f"Neo4j answered with an error: {exc}"
            raise self.unavailable(detail) from exc

    def _active(self) -> AsyncDriver:
        if self._driver is None:
            raise self.unavailable("the store is not open")
        return self._driver

    async def run(self, statements: Sequence[Statement], *, write: bool) -> list[list[Row]]:
        driver = self._active()

        async def work(tx: AsyncManagedTransaction) -> list[list[Row]]:
            results: list[list[Row]] = []
            for statement in statements:
                result = await tx.run(statement.cypher, statement.params)
                results.append(await result.values())
            return results

        with self._faults():
            async with driver.session(database=self.database) as session:
                if write:
                    return await session.execute_write(work)
                return await session.execute_read(work)

    async def run_schema(self, statements: Sequence[Statement]) -> None:
        driver = self._active()
        with self._faults():
            async with driver.session(database=self.database) as session:
                for statement in statements:
                    result = await session.run(statement.cypher, statement.params)
                    await result.consume()

    async def drop_namespace(self) -> None:
        driver = self._active()
        constraints = ("memory_id", "meta_key", "user_id")
        with self._faults():
            async with driver.session(database=self.database) as session:
                for label in LABELS:
                    cypher = self.labels.apply(
                        f"MATCH (n:{label}) WITH n LIMIT $batch DETACH DELETE n RETURN count(*)"
                    )
                    while True:
                        result = await session.run(cypher, {"batch": _DELETE_BATCH})
                        record = await result.single()
                        if record is None or record[0] == 0:
                            break
                for key, name in self._names.items():
                    kind = "CONSTRAINT" if key in constraints else "INDEX"
                    result = await session.run(f"DROP {kind} {name} IF EXISTS")
                    await result.consume()


def parse_neo4j_url(url: str) -> Neo4jDialect:
    """``neo4j://[user:password@]host[:port][/database][?namespace=NAME]``; see the module."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"not a Neo4j URL: {url!r} (expected one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
            + ")"
        )
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"the Neo4j URL has an invalid port: {url!r}") from None
    query = parse_qs(parsed.query)
    unknown = set(query) - {"namespace", "connect_timeout", "timeout"}
    if unknown:
        raise ConfigError(
            f"unknown Neo4j URL option(s): {', '.join(sorted(unknown))}"
            " (known: namespace, connect_timeout, timeout)"
        )
    namespace = query["namespace"][-1] if "namespace" in query else ""
    if namespace:
        check_name(namespace, "Neo4j namespace")
    host = parsed.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    auth = None
    if parsed.username:
        auth = (unquote(parsed.username), unquote(parsed.password or ""))
    return Neo4jDialect(
        f"{scheme}://{host}:{port}",
        auth=auth,
        database=unquote(parsed.path.strip("/")) or None,
        namespace=namespace,
        connect_timeout=url_seconds(query, "connect_timeout", 5.0, "Neo4j"),
        timeout=url_seconds(query, "timeout", 15.0, "Neo4j"),
    )


class Neo4jEpisodicStore(CypherEpisodicStore):
    """Episodic memory in Neo4j 5 (see :mod:`memvault.stores.graph.cypher`)."""

    def __init__(self, url: str, *, keys: KeySet | None = None) -> None:
        super().__init__(url, parse_neo4j_url(url), keys=keys)
