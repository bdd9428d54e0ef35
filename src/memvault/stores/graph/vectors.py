"""The vector half of the Cypher episodic store (a base class of
:class:`~memvault.stores.graph.cypher.CypherEpisodicStore`): the memory's own vector on an
:Embedding node, the store's :class:`~memvault.models.EmbeddingInfo` on a :Meta node, and
vector search through the database's index, over-fetching until enough hits pass the filter.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import Any

from memvault.errors import InvalidInput
from memvault.models import Candidate, EmbeddingInfo, MemoryFilter
from memvault.stores.base import Vector
from memvault.stores.graph import statements as q
from memvault.stores.graph.dialect import Dialect, Row, Statement, vector_values

__all__ = ["CHUNK", "GraphVectors", "chunks"]

#: Most items sent in one statement's list parameter.
CHUNK = 500


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class GraphVectors:
    """The vector methods of :class:`~memvault.stores.base.EpisodicStore` on a graph; the
    store class provides the statement helpers declared here."""

    _dialect: Dialect

    def _statement(self, template: str, params: dict[str, Any], **fragments: str) -> Statement:
        raise NotImplementedError

    async def _run(self, statements: Sequence[Statement], *,
                   write: bool) -> builtins.list[builtins.list[Row]]:
        raise NotImplementedError

    async def _rows(self, template: str, params: dict[str, Any], *, write: bool = False,
                    **fragments: str) -> builtins.list[Row]:
        raise NotImplementedError

    async def _run_schema(self, statements: Sequence[Statement]) -> None:
        raise NotImplementedError

    def _filter(self, where: MemoryFilter) -> tuple[str, dict[str, Any], str]:
        raise NotImplementedError

    def _unsealed(self, user_id: str, memory_id: str, field: str, value: Any) -> Any:
        raise NotImplementedError

    async def vector_search(
        self, where: MemoryFilter, vector: Vector, *, limit: int
    ) -> builtins.list[Candidate]:
        if limit <= 0:
            return []
        info_rows, count_rows = await self._run(
            [self._statement(q.INFO, {}), self._statement(q.COUNT_EMBEDDINGS, {})], write=False
        )
        if not info_rows or info_rows[0][0] is None:
            return []
        info = EmbeddingInfo.model_validate_json(info_rows[0][0])
        total = int(count_rows[0][0]) if count_rows else 0
        if total == 0 or vector.shape[-1] != info.dimensions:
            return []
        clause, params, mentions = self._filter(where)
        params.update(self._dialect.index_params())
        params["vector"] = vector_values(vector)
        # The index knows nothing of the filter: ask for more neighbours until enough of them
        # pass it or every vector has been seen. HNSW may also skip deleted nodes within its
        # ``k``, hence the margin beyond ``total``.
        k = max(limit * 10, 100)
        while True:
            rows = await self._rows(
                q.VECTOR, {**params, "k": k}, filter=clause,
                mentions=f", {mentions}" if mentions else "",
            )  # fmt: skip
            kept = [row for row in rows if row[0] is not None]
            if len(kept) >= limit or len(rows) >= total or k >= 4 * total + 100:
                break
            k *= 4
        return [Candidate(memory_id=row[0], score=float(row[1])) for row in kept[:limit]]

    async def embedding_info(self) -> EmbeddingInfo | None:
        rows = await self._rows(q.INFO, {})
        if not rows or rows[0][0] is None:
            return None
        return EmbeddingInfo.model_validate_json(rows[0][0])

    async def reset_embeddings(self, info: EmbeddingInfo | None) -> None:
        await self._run_schema(self._dialect.vector_index(None))
        if info is None:
            meta = self._statement(q.CLEAR_INFO, {})
        else:
            meta = self._statement(q.SET_INFO, {"value": info.model_dump_json()})
        await self._run([self._statement(q.DROP_EMBEDDINGS, {}), meta], write=True)
        if info is not None:
            await self._run_schema(self._dialect.ensure_vector_index(info.dimensions))

    async def missing_embeddings(self, *, limit: int) -> builtins.list[tuple[str, str]]:
        if limit <= 0:
            return []
        return [(row[0], self._unsealed(row[2], row[0], "content", row[1]))
                for row in await self._rows(q.MISSING, {"limit": limit})]

    async def set_embeddings(
        self,
        items: Sequence[tuple[str, Vector]],
        *,
        spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> None:
        """The first row of each item only (the whole memory); ``spans`` are not kept."""
        if not items:
            return
        info = await self.embedding_info()
        payload: dict[str, builtins.list[float]] = {}
        for memory_id, vector in items:
            if info is not None and vector.shape[-1] != info.dimensions:
                raise InvalidInput(
                    f"vector of dimension {vector.shape[-1]} for a store of {info.dimensions}"
                )
            whole = vector[0] if vector.ndim == 2 else vector  # one vector per memory here
            payload.setdefault(memory_id, vector_values(whole))  # the first of an id wins
        rows = [{"id": key, "vector": value} for key, value in payload.items()]
        for chunk in chunks(rows):
            await self._rows(q.SET_EMBEDDINGS, {"items": list(chunk)}, write=True)

    async def count_embeddings(self) -> int:
        rows = await self._rows(q.COUNT_EMBEDDINGS, {})
        return int(rows[0][0]) if rows else 0
