"""The embedded episodic store: memories, the entity graph, FTS5 and vectors in SQLite.

Full-text search indexes passages with each user's own statistics
(:mod:`memvault.stores.sqlite.lexical`).

Vectors are float32 blobs; search keeps a user's vectors in memory, topped up incrementally:
a numpy matrix searched exactly below ``ann_min`` rows, an HNSW graph above it
(:mod:`memvault.stores.sqlite.vectors`, :mod:`memvault.stores.sqlite.nearest`), saved beside
the database so that the next process loads it instead of rebuilding it. Other processes may
add or delete vectors at any time, so each search first reads, in one snapshot, the user's
vector generation (bumped by deletes and resets), drops the rows deleted since, and reads the
vectors stored after the last one it has. A graph with many rows to add is built in the
background (:mod:`memvault.stores.sqlite.builds`) while that user's searches go on by words.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread
import numpy as np

from memvault.config import SearchConfig
from memvault.errors import InvalidInput
from memvault.models import (
    Candidate,
    EmbeddingInfo,
    Memory,
    MemoryFilter,
    MemoryVersion,
    StoreStatus,
)
from memvault.stores.base import AddWriter, NewMemory, Pending, Revision, Vector
from memvault.stores.codec import (
    counted_status,
    facts_from_json,
    facts_to_json,
    from_micros,
    to_micros,
)
from memvault.stores.crypto import KeySet
from memvault.stores.sqlite import lexical, revise
from memvault.stores.sqlite.builds import GraphBuilds
from memvault.stores.sqlite.db import SqliteDatabase, path_from_url
from memvault.stores.sqlite.jobs import SqliteJobQueue, queue_job
from memvault.stores.sqlite.joint import joint_writer
from memvault.stores.sqlite.nearest import nearest_with_spans
from memvault.stores.sqlite.schema import EPISODIC
from memvault.stores.sqlite.summaries import (
    COLUMNS,
    SqliteSummaryQueue,
    arm_summary,
    drop_derived_of,
    read_memory,
    write_derived,
)
from memvault.stores.sqlite.vector_files import VectorCaches, VectorFiles
from memvault.stores.sqlite.vectors import spans_blob

__all__ = ["SqliteEpisodicStore"]

_COLUMNS = COLUMNS
memory_from_row = read_memory


#: Most ids bound in one ``IN (...)`` list.
_BATCH = 500


def _where(where: MemoryFilter) -> tuple[str, list[Any]]:
    """SQL conditions on alias ``m`` for a filter; every value is a bound parameter."""
    clauses = ["m.user_id = ?"]
    params: builtins.list[Any] = [where.user_id]
    for column, value in (
        ("agent_id", where.agent_id),
        ("session_id", where.session_id),
        ("source", where.source),
    ):
        if value is not None:
            clauses.append(f"m.{column} = ?")
            params.append(value)
    if where.since is not None:
        clauses.append("m.occurred_at >= ?")
        params.append(to_micros(where.since))
    if where.until is not None:
        clauses.append("m.occurred_at < ?")
        params.append(to_micros(where.until))
    if where.entity is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM mentions me JOIN entities e ON e.id = me.entity_id"
            " WHERE me.memory_rowid = m.rowid AND e.name = ?)"
        )
        params.append(where.entity)
    if where.type is not None:
        clauses.append("m.type = ?")
        params.append(where.type)
    for column, pairs in (("metadata", where.metadata), ("data", where.data)):
        for key, wanted in pairs.items():
            if '"' in key:
                raise InvalidInput(f"{column} filter key {key!r} may not contain a double quote")
            clauses.append(f"json_extract(m.{column}, ?) IS ?")
            params.extend([f'$."{key}"', int(wanted) if isinstance(wanted, bool) else wanted])
    return " AND ".join(clauses), params


def _is_user_only(where: MemoryFilter) -> bool:
    return where == MemoryFilter(user_id=where.user_id)


class SqliteEpisodicStore(SqliteJobQueue, SqliteSummaryQueue):
    """Episodic memory in one SQLite file (see :class:`memvault.stores.base.EpisodicStore`).

    ``ann_min`` is the number of a user's vector rows from which vector search goes through
    an approximate (HNSW) graph instead of scoring every row; ``None`` keeps it exact.
    With ``keys`` the file is encrypted, and the graphs are not saved beside it (they hold
    vectors, from which text can partly be guessed): each process builds its own."""

    def __init__(self, url: str, *, ann_min: int | None = SearchConfig().ann_min_vectors,
                 keys: KeySet | None = None) -> None:
        self.url = url
        self.ann_min = ann_min
        self._db = SqliteDatabase(path_from_url(url), "episodic", keys)
        # Only touched inside SqliteDatabase.read_aside, which runs one call at a time.
        files = VectorFiles(None) if keys is not None else VectorFiles.beside(self._db.path)
        # A second connection to ":memory:" would be another, empty database.
        builds = None if str(self._db.path) == ":memory:" else GraphBuilds(
            self._db.open_reader, self._db.close_reader, files.save)
        self._vectors = VectorCaches(files, ann_min, builds)
        # The background sweep's resume point (see missing_embeddings).
        self._sweep_from = 0
        self._sweep_mark: tuple[int, int] | None = None

    async def open(self) -> None:
        await self._db.open("episodic", EPISODIC)
        self._vectors.resume()

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._vectors.stop)
        if self._vectors.users:
            await self._db.read_aside(self._vectors.save_all)
        await self._db.close()

    async def missing(self) -> StoreStatus | None:
        return self._db.missing("episodic")

    async def status(self) -> StoreStatus:
        status = await counted_status("episodic", "sqlite", str(self._db.path), self.count,
                                      "memories")
        note = self._db.library_note()
        if not status.ok or note is None:
            return status
        return status.model_copy(update={"detail": f"{status.detail}; {note}"})

    async def add(self, memories: Sequence[Memory]) -> builtins.list[str]:
        return await self._db.write(self.adding(memories))

    def adding(
        self, memories: Sequence[Memory], *, pending: bool = True
    ) -> Callable[[sqlite3.Connection], builtins.list[str]]:
        """The transaction body of :meth:`add`, for a connection to this store's file; with
        ``pending=False`` no pending record is kept (the caller writes the rest of the add in
        the same transaction)."""

        def _add(conn: sqlite3.Connection) -> builtins.list[str]:
            inserted: builtins.list[str] = []
            last_in_session: dict[tuple[str, str], str] = {}
            for memory in memories:
                if conn.execute("SELECT 1 FROM memories WHERE id = ?", (memory.id,)).fetchone():
                    continue
                new = memory if isinstance(memory, NewMemory) else None
                key = None if new is None else new.idempotency_key
                if key is not None and conn.execute(
                    "SELECT 1 FROM memories WHERE user_id = ? AND idempotency_key = ?",
                    (memory.user_id, key),
                ).fetchone():
                    continue
                prev_id: str | None = None
                if memory.session_id is not None and memory.derived is None:
                    session = (memory.user_id, memory.session_id)
                    prev_id = last_in_session.get(session)
                    if prev_id is None:
                        row = conn.execute(
                            "SELECT id FROM memories WHERE user_id = ? AND session_id = ?"
                            " AND derived_kind IS NULL ORDER BY rowid DESC LIMIT 1",
                            session,
                        ).fetchone()
                        prev_id = row[0] if row else None
                    last_in_session[session] = memory.id
                cursor = conn.execute(
                    "INSERT INTO memories (id, user_id, agent_id, session_id, content,"
                    " occurred_at, created_at, metadata, source, entities, prev_id,"
                    " idempotency_key, request_hash, type, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        memory.id, memory.user_id, memory.agent_id, memory.session_id,
                        memory.content, to_micros(memory.occurred_at),
                        to_micros(memory.created_at), json.dumps(memory.metadata),
                        memory.source, json.dumps(memory.entities), prev_id,
                        key, None if new is None else new.request_hash, memory.type,
                        None if memory.data is None else json.dumps(memory.data),
                    ),
                )
                rowid = cursor.lastrowid
                assert rowid is not None
                lexical.index_memory(conn, rowid, memory.user_id, memory.content)
                write_derived(conn, rowid, memory)
                for name in memory.entities:
                    conn.execute(
                        "INSERT OR IGNORE INTO entities (user_id, name) VALUES (?, ?)",
                        (memory.user_id, name),
                    )
                    conn.execute(
                        "INSERT OR IGNORE INTO mentions (memory_rowid, entity_id)"
                        " SELECT ?, id FROM entities WHERE user_id = ? AND name = ?",
                        (rowid, memory.user_id, name),
                    )
                if new is not None and new.extract and memory.derived is None:
                    queue_job(conn, new)
                if new is not None:
                    arm_summary(conn, new)
                if pending and new is not None and new.pending:
                    conn.execute(
                        "INSERT OR REPLACE INTO pending_adds (memory_id, user_id, facts,"
                        " created_at) VALUES (?, ?, ?, ?)",
                        (memory.id, memory.user_id, facts_to_json(new.facts),
                         to_micros(memory.created_at)),
                    )
                inserted.append(memory.id)
            return inserted

        return _add

    def joint_writer(
        self, profile: object, working: object, *, max_turns: int, ttl_seconds: float
    ) -> AddWriter | None:
        """One transaction for a whole add, when ``profile`` and ``working`` are this
        backend's stores on this very file; ``None`` otherwise (a store wrapped by the caller
        included: it is written through its own methods)."""
        return joint_writer(self, profile, working, max_turns=max_turns,
                            ttl_seconds=ttl_seconds)

    @property
    def database(self) -> SqliteDatabase:
        return self._db

    async def keyed(
        self, user_id: str, keys: Sequence[str]
    ) -> dict[str, tuple[Memory, str | None]]:
        wanted = list(dict.fromkeys(keys))

        def _keyed(conn: sqlite3.Connection) -> dict[str, tuple[Memory, str | None]]:
            found: dict[str, tuple[Memory, str | None]] = {}
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {_COLUMNS}, m.idempotency_key, m.request_hash FROM memories m"
                    f" WHERE m.user_id = ? AND m.idempotency_key IN ({marks})",
                    [user_id, *chunk],
                ):
                    found[row["idempotency_key"]] = (memory_from_row(row), row["request_hash"])
            return found

        return await self._db.read(_keyed)

    async def pending(
        self, *, limit: int, before: datetime | None = None
    ) -> builtins.list[Pending]:
        bound = None if before is None else to_micros(before)

        def _pending(conn: sqlite3.Connection) -> builtins.list[Pending]:
            rows = conn.execute(
                "SELECT memory_id, user_id, facts, created_at FROM pending_adds"
                " WHERE ? IS NULL OR created_at < ? ORDER BY created_at, memory_id LIMIT ?",
                (bound, bound, limit),
            )
            return [Pending(memory_id=r[0], user_id=r[1], facts=facts_from_json(r[2]),
                            created_at=from_micros(r[3])) for r in rows]

        return await self._db.read(_pending)

    async def clear_pending(self, user_id: str, memory_ids: Sequence[str]) -> None:
        ids = list(memory_ids)

        def _clear(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM pending_adds WHERE user_id = ? AND memory_id = ?",
                [(user_id, memory_id) for memory_id in ids],
            )

        if ids:
            await self._db.write(_clear)

    async def get(self, user_id: str, memory_ids: Sequence[str]) -> builtins.list[Memory]:
        if not memory_ids:
            return []
        ids = list(dict.fromkeys(memory_ids))

        def _get(conn: sqlite3.Connection) -> builtins.list[Memory]:
            found: dict[str, Memory] = {}
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start : start + _BATCH]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {_COLUMNS} FROM memories m WHERE +m.user_id = ? AND m.id IN ({marks})",
                    [user_id, *chunk],
                ):
                    found[row["id"]] = memory_from_row(row)
            return [found[i] for i in ids if i in found]

        return await self._db.read(_get)

    async def list(
        self, where: MemoryFilter, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> builtins.list[Memory]:
        clause, params = _where(where)
        if before is not None:
            clause += " AND (m.occurred_at < ? OR (m.occurred_at = ? AND m.id < ?))"
            micros = to_micros(before[0])
            params += [micros, micros, before[1]]
        sql = (
            f"SELECT {_COLUMNS} FROM memories m WHERE {clause}"
            " ORDER BY m.occurred_at DESC, m.id DESC LIMIT ?"
        )

        def _list(conn: sqlite3.Connection) -> builtins.list[Memory]:
            return [memory_from_row(r) for r in conn.execute(sql, [*params, limit])]

        return await self._db.read(_list)

    async def lexical_search(
        self, where: MemoryFilter, terms: Sequence[str], *, limit: int
    ) -> builtins.list[Candidate]:
        words = [t for t in terms if t.strip()]
        if not words or limit <= 0:
            return []
        narrowed = None if _is_user_only(where) else _where(where)

        def _search(conn: sqlite3.Connection) -> builtins.list[Candidate]:
            if narrowed is None:
                return lexical.search(conn, where.user_id, words, limit=limit)
            return lexical.search(conn, where.user_id, words, limit=limit,
                                  clause=narrowed[0], params=narrowed[1])

        return await self._db.read(_search)

    async def vector_search(
        self, where: MemoryFilter, vector: Vector, *, limit: int
    ) -> builtins.list[Candidate]:
        def _search(conn: sqlite3.Connection) -> builtins.list[Candidate]:
            info = self._info(conn)
            if info is None or limit <= 0 or vector.shape[-1] != info.dimensions:
                return []
            conn.execute("BEGIN")  # the vectors, the filter and the rescoring in one snapshot
            try:
                cache = self._vectors.refresh(conn, where.user_id, info.dimensions)
                if cache.live_rows == 0:
                    return []
                allowed = None
                if not _is_user_only(where):
                    clause, params = _where(where)
                    allowed = np.fromiter(
                        (r[0] for r in conn.execute(
                            f"SELECT m.rowid FROM memories m WHERE {clause}", params)),
                        dtype=np.int64,
                    )
                found, spans = nearest_with_spans(conn, cache, vector, limit, allowed)
                wanted = [rowid for rowid, _ in found]
                marks = ",".join("?" * len(wanted))
                ids = dict(conn.execute(
                    f"SELECT rowid, id FROM memories WHERE rowid IN ({marks})", wanted))
            finally:
                conn.execute("COMMIT")
            return [Candidate(memory_id=ids[r], score=s, span=spans.get(r))
                    for r, s in found if r in ids]

        # Beside the other reads: a search's vector stage runs while its lexical one does.
        return await self._db.read_aside(_search)

    async def neighbors(
        self, user_id: str, memory_id: str, *, before: int, after: int
    ) -> builtins.list[Memory]:
        def _neighbors(conn: sqlite3.Connection) -> builtins.list[Memory]:
            earlier = conn.execute(
                "WITH RECURSIVE back(id, prev_id, depth) AS ("
                " SELECT id, prev_id, 0 FROM memories WHERE user_id = ? AND id = ?"
                " UNION ALL SELECT m.id, m.prev_id, back.depth + 1 FROM memories m"
                " JOIN back ON m.id = back.prev_id WHERE back.depth < ?)"
                f" SELECT {_COLUMNS}, back.depth FROM back JOIN memories m ON m.id = back.id"
                " WHERE back.depth > 0 ORDER BY back.depth DESC",
                (user_id, memory_id, before),
            ).fetchall()
            later = conn.execute(
                "WITH RECURSIVE fwd(id, depth) AS ("
                " SELECT id, 0 FROM memories WHERE user_id = ? AND id = ?"
                " UNION ALL SELECT m.id, fwd.depth + 1 FROM memories m"
                " JOIN fwd ON m.prev_id = fwd.id WHERE fwd.depth < ?)"
                f" SELECT {_COLUMNS}, fwd.depth FROM fwd JOIN memories m ON m.id = fwd.id"
                " WHERE fwd.depth > 0 ORDER BY fwd.depth",
                (user_id, memory_id, after),
            ).fetchall()
            return [memory_from_row(r) for r in [*earlier, *later] if r["user_id"] == user_id]

        return await self._db.read(_neighbors)

    async def adjacent(
        self, user_id: str, memory_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        ids = list(dict.fromkeys(memory_ids))

        def _adjacent(conn: sqlite3.Connection) -> dict[str, tuple[str | None, str | None]]:
            found: dict[str, tuple[str | None, str | None]] = {}
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                marks = ",".join("?" * len(chunk))
                for memory_id, prev_id in conn.execute(
                    f"SELECT id, prev_id FROM memories WHERE +user_id = ? AND id IN ({marks})",
                    [user_id, *chunk],
                ):
                    found[memory_id] = (prev_id, None)
                for memory_id, prev_id in conn.execute(
                    "SELECT id, prev_id FROM memories"
                    f" WHERE +user_id = ? AND prev_id IN ({marks})",
                    [user_id, *chunk],
                ):
                    if prev_id in found:
                        found[prev_id] = (found[prev_id][0], memory_id)
            return found

        return await self._db.read(_adjacent)

    async def update(self, revision: Revision) -> Memory | None:
        return await self._db.write(lambda conn: revise.revise(conn, revision))

    async def versions(self, user_id: str, memory_id: str) -> builtins.list[MemoryVersion]:
        return await self._db.read(lambda conn: revise.versions(conn, user_id, memory_id))

    async def delete(self, user_id: str, memory_id: str) -> bool:
        return await self.delete_ids(user_id, [memory_id]) == 1

    async def delete_all(self, where: MemoryFilter) -> int:
        clause, params = _where(where)

        def _ids(conn: sqlite3.Connection) -> builtins.list[str]:
            return [r[0] for r in conn.execute(f"SELECT m.id FROM memories m WHERE {clause}",
                                               params)]

        ids = await self._db.read(_ids)
        return await self.delete_ids(where.user_id, ids)

    async def delete_ids(self, user_id: str, memory_ids: Sequence[str]) -> int:
        """Delete memories, relinking each session's chain around them."""

        def _delete(conn: sqlite3.Connection) -> int:
            deleted = 0
            for memory_id in memory_ids:
                row = conn.execute(
                    "SELECT prev_id FROM memories WHERE user_id = ? AND id = ?",
                    (user_id, memory_id),
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "UPDATE memories SET prev_id = ? WHERE prev_id = ? AND user_id = ?",
                    (row[0], memory_id, user_id),
                )
                conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
                deleted += 1
            if deleted:
                drop_derived_of(conn, user_id, memory_ids)
                conn.execute(
                    "DELETE FROM entities WHERE user_id = ? AND NOT EXISTS"
                    " (SELECT 1 FROM mentions WHERE entity_id = entities.id)",
                    (user_id,),
                )
                conn.execute(
                    "INSERT INTO vector_generations (user_id, generation) VALUES (?, 1)"
                    " ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1",
                    (user_id,),
                )
            return deleted

        return await self._db.write(_delete)

    async def count(self, user_id: str | None = None) -> int:
        def _count(conn: sqlite3.Connection) -> int:
            if user_id is None:
                return int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])
            return int(
                conn.execute("SELECT count(*) FROM memories WHERE user_id = ?",
                             (user_id,)).fetchone()[0]
            )

        return await self._db.read(_count)

    async def user_ids(self) -> builtins.list[str]:
        def _users(conn: sqlite3.Connection) -> builtins.list[str]:
            return [r[0] for r in conn.execute(
                "SELECT DISTINCT user_id FROM memories ORDER BY user_id")]

        return await self._db.read(_users)

    def _info(self, conn: sqlite3.Connection) -> EmbeddingInfo | None:
        row = conn.execute(
            "SELECT value FROM episodic_meta WHERE key = 'embedding'"
        ).fetchone()
        return EmbeddingInfo.model_validate_json(row[0]) if row else None

    async def embedding_info(self) -> EmbeddingInfo | None:
        return await self._db.read(self._info)

    async def reset_embeddings(self, info: EmbeddingInfo | None) -> None:
        def _reset(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM embeddings")
            conn.execute(
                "INSERT INTO vector_generations (user_id, generation)"
                " SELECT DISTINCT user_id, 1 FROM memories WHERE true"
                " ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1"
            )
            if info is None:
                conn.execute("DELETE FROM episodic_meta WHERE key = 'embedding'")
            else:
                conn.execute(
                    "INSERT INTO episodic_meta (key, value) VALUES ('embedding', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (info.model_dump_json(),),
                )

        await self._db.write(_reset)

    async def missing_embeddings(self, *, limit: int) -> builtins.list[tuple[str, str]]:
        """Memories without a vector, oldest first.

        Incremental: every memory below the resume point has a vector, so a sweep over a
        store with nothing missing reads only the memories added since the last sweep. Only a
        delete or a reset of vectors can break that (a new memory gets a rowid above every
        present one unless the highest were deleted), and each bumps a vector generation, so
        a change in their sum starts the next sweep from the beginning."""

        def _missing(conn: sqlite3.Connection) -> builtins.list[tuple[str, str]]:
            conn.execute("BEGIN")
            try:
                mark = conn.execute(
                    "SELECT coalesce(sum(generation), 0), count(*) FROM vector_generations"
                ).fetchone()
                if tuple(mark) != self._sweep_mark:
                    self._sweep_from, self._sweep_mark = 0, tuple(mark)
                rows = conn.execute(
                    "SELECT m.rowid, m.id, m.content FROM memories m WHERE m.rowid >= ?"
                    " AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.memory_rowid = m.rowid)"
                    " ORDER BY m.rowid LIMIT ?",
                    (self._sweep_from, limit),
                ).fetchall()
                if rows:
                    self._sweep_from = int(rows[0][0])
                else:
                    (top,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM memories").fetchone()
                    self._sweep_from = int(top) + 1
            finally:
                conn.execute("COMMIT")
            return [(r[1], r[2]) for r in rows]

        return await self._db.read(_missing)

    async def set_embeddings(
        self,
        items: Sequence[tuple[str, Vector]],
        *,
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        def _set(conn: sqlite3.Connection) -> None:
            info = self._info(conn)
            for index, (memory_id, vector) in enumerate(items):
                if info is not None and vector.shape[-1] != info.dimensions:
                    raise InvalidInput(
                        f"vector of dimension {vector.shape[-1]} for a store of {info.dimensions}"
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO embeddings (memory_rowid, user_id, vector, spans)"
                    " SELECT rowid, user_id, ?, ? FROM memories WHERE id = ?",
                    (np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                     spans_blob(vector, spans[index] if spans is not None else None),
                     memory_id),
                )

        await self._db.write(_set)

    async def count_embeddings(self) -> int:
        def _count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])

        return await self._db.read(_count)
