"""The episodic store on a Cypher graph database; its query text is in
:mod:`memvault.stores.graph.statements`.

Graph model (labels as written below; a :class:`~memvault.stores.graph.dialect.Labels` may
suffix them with a namespace)::

    (:User {id})-[:HAS]->(:Memory)
    (:Memory {id, user_id, agent_id, session_id, content, occurred_at, created_at, metadata,
              metadata_pairs, source, entities, seq, type, data, data_pairs})
    (:Memory)-[:NEXT]->(:Memory)          next in the same (user, session), by insertion order
    (:Memory)-[:IN_SESSION]->(:Session {user_id, id})
    (:Memory)-[:MENTIONS]->(:Entity {user_id, name})
    (:Memory)-[:EMBEDDING]->(:Embedding {user_id, embedding})   the memory's own vector only:
                                          passage rows given to set_embeddings are not kept
    (:Meta {key: 'seq', value})           the insertion counter behind ``seq``
    (:Meta {key: 'embedding', value})     EmbeddingInfo as JSON
    (:Pending {memory_id, user_id, facts, created_at})   an add's pending record (an outbox
                                          entry: the facts as JSON), linked to nothing
    (:Memory)-[:VERSION]->(:MemoryVersion {user_id, version, content, metadata, occurred_at,
                                           replaced_at, data})   what an update replaced

A :Memory stored by an add with an idempotency key also has ``idempotency_key`` and
``request_hash``; both are set when it is created.

Times are integer microseconds since the epoch; ``metadata``, ``entities`` and a typed
memory's ``data`` are JSON text, returned verbatim; ``metadata_pairs`` and ``data_pairs`` make
a metadata or data filter a list-membership test (see
:func:`~memvault.stores.graph.dialect.metadata_pairs`, :mod:`memvault.stores.graph.pairs`).

A :Memory node changes only when the memory is updated (rare): the full-text index
re-indexes a node on every property change (FalkorDB then scores with stale statistics),
which is why vectors live on their own :Embedding nodes. The vector index (on :Embedding)
is created when :meth:`CypherEpisodicStore.reset_embeddings` learns the dimension. Searches
use the database's indexes; filters are applied to the index's hits (vector search
over-fetches, growing ``k`` until enough hits pass the filter or the index is exhausted).

Every value is a query parameter. Only fixed text from the statements module, the dialect's
fragments and validated labels are ever formatted into a query.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memvault.analysis import ANALYSIS_VERSION, joined, tokens
from memvault.errors import StoreUnavailable
from memvault.models import (
    Candidate,
    EmbeddingInfo,
    Memory,
    MemoryFilter,
    MemoryVersion,
    StoreStatus,
)
from memvault.stores.base import NewMemory, Pending, Revision
from memvault.stores.codec import (
    counted_status,
    facts_from_json,
    facts_to_json,
    from_micros,
    memory_from_row,
    to_micros,
)
from memvault.stores.crypto import KeySet
from memvault.stores.graph import statements as q
from memvault.stores.graph.dialect import (
    Dialect,
    Row,
    Statement,
    metadata_pairs,
)
from memvault.stores.graph.pairs import pair_filters
from memvault.stores.graph.rekeying import SealedRekeying
from memvault.stores.graph.sealing import Sealer, open_plain, stored_keys
from memvault.stores.graph.vectors import CHUNK, GraphVectors, chunks

__all__ = ["CypherEpisodicStore"]



def _memory_params(memory: Memory, idx: int) -> dict[str, Any]:
    new = memory if isinstance(memory, NewMemory) else None
    key = None if new is None else new.idempotency_key
    return {
        "idempotency_key": key,
        "key_match": key or "",
        "request_hash": None if new is None else new.request_hash,
        "pending": facts_to_json(new.facts) if new is not None and new.pending else None,
        "idx": idx,
        "id": memory.id,
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "session_id": memory.session_id,
        "content": memory.content,
        "text": joined(memory.content),
        "occurred_at": to_micros(memory.occurred_at),
        "created_at": to_micros(memory.created_at),
        "metadata": json.dumps(memory.metadata),
        "metadata_pairs": metadata_pairs(memory.metadata),
        "source": memory.source,
        "entities": json.dumps(memory.entities),
        "entity_names": list(dict.fromkeys(memory.entities)),
        "type": memory.type,
        "data": None if memory.data is None else json.dumps(memory.data),
        "data_pairs": metadata_pairs(memory.data or {}),
    }


class CypherEpisodicStore(GraphVectors, SealedRekeying):
    """Episodic memory in a Cypher graph database (see
    :class:`memvault.stores.base.EpisodicStore`); ``dialect`` says which database. With
    ``keys``, content and metadata are sealed (:mod:`memvault.stores.graph.sealing`)."""

    def __init__(self, url: str, dialect: Dialect, *, keys: KeySet | None = None) -> None:
        self.url = url
        self._sealer = None if keys is None else Sealer(keys)
        self._dialect = dialect
        self._opened = False
        self._schema_ready = False
        exists = dialect.exists
        self._fragments = {
            "fulltext_call": dialect.fulltext_call,
            "vector_call": dialect.vector_call,
            "similarity": dialect.similarity,
            "vector_value": dialect.vector_value,
            "mentioned": exists("(e)<-[:MENTIONS]-(:Memory)"),
            "in_session": exists("(s)<-[:IN_SESSION]-(:Memory)"),
            "has": exists("(u)-[:HAS]->(:Memory)"),
            "embedded": exists("(m)-[:EMBEDDING]->(:Embedding)"),
        }

    # -- plumbing ---------------------------------------------------------------------------

    def _statement(self, template: str, params: dict[str, Any], **fragments: str) -> Statement:
        """A template with the dialect's and the given fragments and this namespace's labels."""
        cypher = template % {**self._fragments, **fragments}
        return Statement(self._dialect.labels.apply(cypher), params)

    def _labelled(self, statements: Sequence[Statement]) -> builtins.list[Statement]:
        return [Statement(self._dialect.labels.apply(s.cypher), s.params) for s in statements]

    def _params(self, memory: Memory, idx: int) -> dict[str, Any]:
        params = _memory_params(memory, idx)
        sealer = self._sealer
        if sealer is not None:
            who = (memory.user_id, memory.id)
            params.update(
                content=sealer.seal(*who, "content", memory.content), text="",
                metadata=sealer.seal(*who, "metadata", params["metadata"]),
                metadata_pairs=sealer.pairs(params["metadata_pairs"]),
                data_pairs=sealer.pairs(params["data_pairs"]))
            if params["data"] is not None:
                params["data"] = sealer.seal(*who, "data", params["data"])
            if params["pending"] is not None:
                params["pending"] = sealer.seal(*who, "pending", params["pending"])
            if params["idempotency_key"] is not None:
                token = sealer.idempotency_token(memory.user_id, params["idempotency_key"])
                params.update(idempotency_key=token, key_match=token)
            if params["request_hash"] is not None:
                params["request_hash"] = sealer.seal(*who, "request_hash",
                                                     params["request_hash"])
        return params

    def _memory(self, row: Row) -> Memory:
        """A memory from a row of MEMORY_FIELDS, its sealed fields opened."""
        if self._sealer is not None:
            return memory_from_row(self._sealer.open_row(list(row)))
        open_plain(row[4])
        return memory_from_row(row)

    def _unsealed(self, user_id: str, memory_id: str, field: str, value: Any) -> Any:
        if self._sealer is None:
            return open_plain(value)
        return self._sealer.open(user_id, memory_id, field, value)

    def _check_open(self) -> None:
        if not self._opened:
            raise self._dialect.unavailable("the store is not open")

    async def _run(
        self, statements: Sequence[Statement], *, write: bool
    ) -> builtins.list[builtins.list[Row]]:
        self._check_open()
        if not self._schema_ready:
            await self._ensure_schema()
        try:
            return await self._dialect.run(statements, write=write)
        except StoreUnavailable:
            # The server may be back but empty (restarted without persistence), lacking the
            # graph and its indexes: re-check the schema before the next call, and retry a
            # read once if the server answers.
            self._schema_ready = False
            if write:
                raise
            try:
                await self._ensure_schema()
            except StoreUnavailable:
                pass
            else:
                return await self._dialect.run(statements, write=write)
            raise

    async def _rows(
        self, template: str, params: dict[str, Any], *, write: bool = False, **fragments: str
    ) -> builtins.list[Row]:
        [rows] = await self._run([self._statement(template, params, **fragments)], write=write)
        return rows

    async def _run_schema(self, statements: Sequence[Statement]) -> None:
        self._check_open()
        try:
            await self._dialect.run_schema(self._labelled(statements))
        except StoreUnavailable:
            self._schema_ready = False
            raise

    async def _ensure_schema(self) -> None:
        self._schema_ready = False
        await self._dialect.run_schema(self._labelled(self._dialect.schema()))
        await self._ensure_analysis()
        [rows] = await self._dialect.run([self._statement(q.INFO, {})], write=False)
        if rows and rows[0][0] is not None:
            info = EmbeddingInfo.model_validate_json(rows[0][0])
            vector_index = self._dialect.ensure_vector_index(info.dimensions)
            await self._dialect.run_schema(self._labelled(vector_index))
        self._schema_ready = True

    async def _ensure_analysis(self) -> None:
        """Index the analysed text of memories stored before it was analysed (or by another
        :data:`~memvault.analysis.ANALYSIS_VERSION`): the full-text index is made anew on
        ``m.text``, every memory's text computed again, and the version recorded."""
        [rows] = await self._dialect.run([self._statement(q.ANALYSIS, {})], write=False)
        if rows and rows[0][0] == str(ANALYSIS_VERSION):
            return
        await self._dialect.run([self._statement(q.CLEAR_TEXT, {})], write=True)
        await self._dialect.run_schema(self._labelled(self._dialect.fulltext_index()))
        while True:
            [rows] = await self._dialect.run(
                [self._statement(q.UNANALYSED, {"limit": CHUNK})], write=False)
            if not rows:
                break
            texts = [{"id": row[0], "text": "" if str(row[1] or "").startswith("mv1:")
                      else joined(str(row[1] or ""))} for row in rows]
            await self._dialect.run([self._statement(q.SET_TEXT, {"rows": texts})], write=True)
        await self._dialect.run(
            [self._statement(q.SET_ANALYSIS, {"value": str(ANALYSIS_VERSION)})], write=True)

    def _filter(self, where: MemoryFilter) -> tuple[str, dict[str, Any], str]:
        """A ``WHERE`` condition on ``m`` for a filter, its parameters, and the pattern an
        entity filter adds to the match (FalkorDB takes no pattern predicate after a procedure
        call, so the entity is matched rather than tested)."""
        clauses = ["m.user_id = $f_user_id"]
        params: dict[str, Any] = {"f_user_id": where.user_id}
        for name, value in (
            ("agent_id", where.agent_id),
            ("session_id", where.session_id),
            ("source", where.source),
        ):
            if value is not None:
                clauses.append(f"m.{name} = $f_{name}")
                params[f"f_{name}"] = value
        if where.since is not None:
            clauses.append("m.occurred_at >= $f_since")
            params["f_since"] = to_micros(where.since)
        if where.until is not None:
            clauses.append("m.occurred_at < $f_until")
            params["f_until"] = to_micros(where.until)
        mentions = ""
        if where.entity is not None:
            mentions = "(m)-[:MENTIONS]->(:Entity {name: $f_entity})"
            params["f_entity"] = where.entity
        if where.type is not None:
            clauses.append("m.type = $f_type")
            params["f_type"] = where.type
        for prop, wanted, tag in (("metadata_pairs", where.metadata, "meta"),
                                  ("data_pairs", where.data, "data")):
            tests, values = pair_filters(prop, wanted, self._sealer, tag)
            clauses += tests
            params.update(values)
        return " AND ".join(clauses), params, mentions

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        await self._dialect.connect()
        self._opened = True
        try:
            await self._ensure_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._opened = False
        await self._dialect.close()

    async def drop_namespace(self) -> None:
        """Delete every memory, node and index of this store's namespace. For tests and for
        starting over; the store stays open and recreates its schema on the next call."""
        self._check_open()
        self._schema_ready = False
        await self._dialect.drop_namespace()

    async def status(self) -> StoreStatus:
        return await counted_status("episodic", self._dialect.backend, self._dialect.location,
                                    self.count, "memories")

    # -- memories ---------------------------------------------------------------------------

    async def add(self, memories: Sequence[Memory]) -> builtins.list[str]:
        unique = list({m.id: m for m in reversed(memories)}.values())[::-1]  # first of an id
        keys: set[tuple[str, str]] = set()
        for memory in list(unique):  # and the first of a (user, idempotency key)
            if isinstance(memory, NewMemory) and memory.idempotency_key is not None:
                key = (memory.user_id, memory.idempotency_key)
                if key in keys:
                    unique.remove(memory)
                keys.add(key)
        if not unique:
            return []
        rows = [self._params(memory, idx) for idx, memory in enumerate(unique)]
        return [row[0] for row in await self._rows(q.ADD, {"rows": rows}, write=True)]

    async def keyed(
        self, user_id: str, keys: Sequence[str]
    ) -> dict[str, tuple[Memory, str | None]]:
        found: dict[str, tuple[Memory, str | None]] = {}
        sealer = self._sealer
        stored_as = stored_keys(sealer, user_id, keys)
        for chunk in chunks(list(stored_as)):
            rows = await self._rows(q.KEYED, {"keys": list(chunk), "user_id": user_id})
            for row in rows:
                memory = self._memory(row)
                digest = row[-1] if sealer is None else sealer.open(
                    user_id, memory.id, "request_hash", row[-1])
                found.setdefault(stored_as[row[-2]], (memory, digest))
        return found

    async def pending(
        self, *, limit: int, before: datetime | None = None
    ) -> builtins.list[Pending]:
        params = {"limit": limit, "before": None if before is None else to_micros(before)}
        return [
            Pending(memory_id=row[0], user_id=row[1],
                    facts=facts_from_json(self._unsealed(row[1], row[0], "pending", row[2])),
                    created_at=from_micros(row[3]))
            for row in await self._rows(q.PENDING, params)
        ]

    async def clear_pending(self, user_id: str, memory_ids: Sequence[str]) -> None:
        for chunk in chunks(list(dict.fromkeys(memory_ids))):
            await self._rows(q.CLEAR_PENDING, {"ids": list(chunk), "user_id": user_id},
                             write=True)

    async def get(self, user_id: str, memory_ids: Sequence[str]) -> builtins.list[Memory]:
        ids = list(dict.fromkeys(memory_ids))
        found: dict[str, Memory] = {}
        for chunk in chunks(ids):
            rows = await self._rows(q.GET, {"ids": list(chunk), "user_id": user_id})
            found.update((row[0], self._memory(row)) for row in rows)
        return [found[i] for i in ids if i in found]

    async def list(
        self, where: MemoryFilter, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> builtins.list[Memory]:
        if limit <= 0:
            return []
        clause, params, mentions = self._filter(where)
        if before is not None:
            clause += (
                " AND (m.occurred_at < $before_at"
                " OR (m.occurred_at = $before_at AND m.id < $before_id))"
            )
            params.update(before_at=to_micros(before[0]), before_id=before[1])
        params["limit"] = limit
        rows = await self._rows(
            q.LIST, params, filter=clause, mentions=f", {mentions}" if mentions else ""
        )
        return [self._memory(row) for row in rows]

    async def lexical_search(
        self, where: MemoryFilter, terms: Sequence[str], *, limit: int
    ) -> builtins.list[Candidate]:
        # Each term analysed as the stored text was; each of its tokens is searched for.
        asked = dict.fromkeys(t for term in terms for t in tokens(term, query=True))
        queries = [q for q in map(self._dialect.fulltext_query, asked) if q]
        if not queries or limit <= 0:
            return []
        clause, params, mentions = self._filter(where)
        params.update(self._dialect.index_params())
        params.update(queries=list(dict.fromkeys(queries)), limit=limit)
        rows = await self._rows(
            q.LEXICAL, params, filter=clause, mentions=f"MATCH {mentions}" if mentions else ""
        )
        return [Candidate(memory_id=row[0], score=float(row[1])) for row in rows]

    async def neighbors(
        self, user_id: str, memory_id: str, *, before: int, after: int
    ) -> builtins.list[Memory]:
        statements = [
            self._statement(template, {"id": memory_id, "user_id": user_id, "hops": hops})
            for template, hops in (
                (q.NEIGHBORS_BEFORE, min(before, q.MAX_NEIGHBOR_HOPS)),
                (q.NEIGHBORS_AFTER, min(after, q.MAX_NEIGHBOR_HOPS)),
            )
            if hops > 0
        ]
        if not statements:
            return []
        results = await self._run(statements, write=False)
        return [self._memory(row) for rows in results for row in rows if row[1] == user_id]

    async def adjacent(
        self, user_id: str, memory_ids: Sequence[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        found: dict[str, tuple[str | None, str | None]] = {}
        for chunk in chunks(list(dict.fromkeys(memory_ids))):
            rows = await self._rows(q.ADJACENT, {"user_id": user_id, "ids": list(chunk)})
            found.update({row[0]: (row[1], row[2]) for row in rows})
        return found

    async def update(self, revision: Revision) -> Memory | None:
        metadata = None if revision.metadata is None else dict(revision.metadata)
        entities = None if revision.entities is None else list(revision.entities)
        who = {"id": revision.memory_id, "user_id": revision.user_id}
        params = {
            **who, "at": to_micros(revision.at), "content": revision.content,
            "text": None if revision.content is None else joined(revision.content),
            "entities": None if revision.content is None else json.dumps(entities or []),
            "metadata": None if metadata is None else json.dumps(metadata),
            "metadata_pairs": None if metadata is None else metadata_pairs(metadata),
            "occurred_at": None if revision.occurred_at is None
            else to_micros(revision.occurred_at),
            "data": None if revision.data is None else json.dumps(revision.data),
            "data_pairs": None if revision.data is None else metadata_pairs(revision.data),
        }
        sealer = self._sealer
        if sealer is not None:
            mine = (revision.user_id, revision.memory_id)
            if params["content"] is not None:
                params.update(content=sealer.seal(*mine, "content", str(params["content"])),
                              text="")
            if params["metadata"] is not None:
                params.update(metadata=sealer.seal(*mine, "metadata", str(params["metadata"])),
                              metadata_pairs=sealer.pairs(metadata_pairs(metadata or {})))
            if params["data"] is not None:
                params.update(data=sealer.seal(*mine, "data", str(params["data"])),
                              data_pairs=sealer.pairs(metadata_pairs(revision.data or {})))
        statements = [self._statement(q.UPDATE, params)]
        if revision.content is not None:
            old = await self._rows(q.GET, {"ids": [revision.memory_id],
                                           "user_id": revision.user_id})
            names = list(dict.fromkeys(entities or []))
            gone = sorted({n for row in old for n in json.loads(row[9])} - set(names))
            statements += [
                self._statement(q.UPDATE_MENTIONS, {**who, "names": names}),
                self._statement(q.ADD_MENTIONS, {**who, "names": names}),
                self._statement(q.DROP_ORPHAN_ENTITIES,
                                {"user_id": revision.user_id, "names": gone}),
            ]
        results = await self._run(statements, write=True)
        return self._memory(results[0][0]) if results[0] else None

    async def versions(self, user_id: str, memory_id: str) -> builtins.list[MemoryVersion]:
        rows = await self._rows(q.VERSIONS, {"id": memory_id, "user_id": user_id})
        return [
            MemoryVersion(version=int(r[0]),
                          content=self._unsealed(user_id, memory_id, "content", r[1]),
                          metadata=json.loads(self._unsealed(user_id, memory_id, "metadata", r[2])),
                          occurred_at=from_micros(r[3]), replaced_at=from_micros(r[4]),
                          data=None if r[5] is None
                          else json.loads(self._unsealed(user_id, memory_id, "data", r[5])))
            for r in rows
        ]

    async def delete(self, user_id: str, memory_id: str) -> bool:
        return await self.delete_ids(user_id, [memory_id]) == 1

    async def delete_all(self, where: MemoryFilter) -> int:
        clause, params, mentions = self._filter(where)
        rows = await self._rows(
            q.IDS, params, filter=clause, mentions=f", {mentions}" if mentions else ""
        )
        return await self.delete_ids(where.user_id, [row[0] for row in rows])

    async def delete_ids(self, user_id: str, memory_ids: Sequence[str]) -> int:
        """Delete memories, relinking each session's chain around them, then the entity,
        session and user nodes nothing points to any more."""
        deleted = 0
        for chunk in chunks(list(dict.fromkeys(memory_ids))):
            ids = {"user_id": user_id, "ids": list(chunk)}
            doomed = await self._rows(q.DOOMED, ids)
            if not doomed:
                continue
            names = sorted({name for row in doomed for name in json.loads(row[1])})
            sessions = sorted({row[2] for row in doomed if row[2] is not None})
            statements = [
                self._statement(q.DELETE, ids),
                self._statement(q.DROP_ORPHAN_ENTITIES, {"user_id": user_id, "names": names}),
                self._statement(q.DROP_ORPHAN_SESSIONS, {"user_id": user_id, "sessions": sessions}),
                self._statement(q.DROP_ORPHAN_USER, {"user_id": user_id}),
            ]
            results = await self._run(statements, write=True)
            deleted += int(results[0][0][0]) if results[0] else 0
        return deleted

    async def count(self, user_id: str | None = None) -> int:
        if user_id is None:
            rows = await self._rows(q.COUNT, {})
        else:
            rows = await self._rows(q.COUNT_USER, {"user_id": user_id})
        return int(rows[0][0]) if rows else 0

    async def user_ids(self) -> builtins.list[str]:
        return [row[0] for row in await self._rows(q.USER_IDS, {})]
