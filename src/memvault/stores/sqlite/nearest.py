"""Nearest rows for a query vector over :class:`~memvault.stores.sqlite.vectors.UserVectors`.

Exact mode scores every row. Graph mode asks the graph for a few times more rows than
wanted, keeps those whose memory passes the filter, and rescores them from the stored float32
blobs, so every returned score is the exact inner product. When too few candidates pass a
filter (a narrow session, agent, entity, metadata or time filter), or the filter admits few
memories to begin with, the filtered subset is scored exactly from the table instead.
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import numpy.typing as npt

from memvault.models import PassageSpan
from memvault.stores.base import Vector
from memvault.stores.sqlite.vectors import UserVectors, best_per_memory, row_spans

__all__ = ["best_spans", "nearest", "nearest_with_spans"]

#: Rows asked of the graph per wanted memory, and at least this many.
_OVERFETCH = 4
_MIN_CANDIDATES = 128
#: Most rows asked of the graph for one filtered search before scoring the subset exactly.
_MAX_CANDIDATES = 4096
#: A filter admitting at most this many memories is scored exactly from the table.
_SMALL_SUBSET = 2000
_BATCH = 500

Scored = list[tuple[int, float]]


def nearest(conn: sqlite3.Connection, cache: UserVectors, vector: Vector, limit: int,
            allowed: npt.NDArray[np.int64] | None) -> Scored:
    """The ``limit`` best memories as (memory rowid, score), best first; ``allowed`` holds the
    rowids of the memories that pass the filter (``None``: all of the user's)."""
    query = vector.astype(np.float32)
    matrix = cache.matrix
    if matrix is not None:
        return _exact_matrix(matrix, cache.owners, query, limit, allowed)
    if allowed is not None and allowed.shape[0] == 0:
        return []
    if allowed is not None and allowed.shape[0] <= _SMALL_SUBSET:
        return rescore(conn, query, allowed, limit)
    share = 1.0 if allowed is None else allowed.shape[0] / max(1, _memories(cache))
    count = max(_MIN_CANDIDATES, _OVERFETCH * limit)
    count = min(math.ceil(count / max(share, 1e-9)), cache.live_rows)
    while True:
        keys = cache.graph.search(query, count) if cache.graph is not None else keys_empty()
        keys = keys[cache.alive[keys]]
        owners = cache.owners[keys]
        if allowed is not None:
            owners = owners[np.isin(owners, allowed)]
        candidates = np.unique(owners)
        if candidates.shape[0] >= limit or count >= cache.live_rows:
            break
        if allowed is not None and count >= _MAX_CANDIDATES:
            return rescore(conn, query, allowed, limit)
        count = min(count * 4, cache.live_rows)
    return rescore(conn, query, candidates, limit)


def nearest_with_spans(
    conn: sqlite3.Connection, cache: UserVectors, vector: Vector, limit: int,
    allowed: npt.NDArray[np.int64] | None,
) -> tuple[Scored, dict[int, PassageSpan]]:
    """:func:`nearest`, and the content span of each found memory's best row where known (as
    :func:`best_spans`). In exact mode the spans come from memory, with the scores; in graph
    mode they are read from the table."""
    matrix, spans = cache.matrix, cache.spans
    if matrix is None or spans is None:
        found = nearest(conn, cache, vector, limit, allowed)
        return found, best_spans(conn, vector, [rowid for rowid, _ in found])
    query = vector.astype(np.float32)
    owners = cache.owners
    if matrix.shape[0] == 0:
        return [], {}
    scores = matrix @ query
    if allowed is not None:
        mask = np.isin(owners, allowed)
        scores, owners, spans = scores[mask], owners[mask], spans[mask]
    if scores.shape[0] == 0:
        return [], {}
    rows = best_per_memory(scores, owners, limit)
    out: dict[int, PassageSpan] = {}
    for i in rows:
        first, end = spans[i]
        if first >= 0:
            out[int(owners[i])] = PassageSpan(start=int(first), end=int(end))
    return [(int(owners[i]), float(scores[i])) for i in rows], out


def keys_empty() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def _memories(cache: UserVectors) -> int:
    return int(np.unique(cache.owners[cache.alive]).shape[0]) if cache.size < 50_000 \
        else cache.live_rows


def _exact_matrix(matrix: Vector, owners: npt.NDArray[np.int64], query: Vector, limit: int,
                  allowed: npt.NDArray[np.int64] | None) -> Scored:
    if matrix.shape[0] == 0:
        return []
    scores = matrix @ query
    if allowed is not None:
        mask = np.isin(owners, allowed)
        scores, owners = scores[mask], owners[mask]
    if scores.shape[0] == 0:
        return []
    return [(int(owners[i]), float(scores[i])) for i in best_per_memory(scores, owners, limit)]


def rescore(conn: sqlite3.Connection, query: Vector, memories: npt.NDArray[np.int64],
            limit: int) -> Scored:
    """The exact best ``limit`` of ``memories`` (rowids), each scored by its best stored
    vector, read from the table in the caller's transaction."""
    best: dict[int, float] = {}
    dimensions = query.shape[0]
    ids = [int(m) for m in memories]
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT memory_rowid, vector FROM embeddings WHERE memory_rowid IN ({marks})",
            chunk,
        ).fetchall()
        if not rows:
            continue
        block = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        scores = block.reshape(-1, dimensions) @ query
        counts = np.array([len(r[1]) // (4 * dimensions) for r in rows])
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for (rowid, _), score in zip(rows, np.maximum.reduceat(scores, starts), strict=True):
            value = float(score)
            if value > best.get(rowid, -math.inf):
                best[rowid] = value
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


def best_spans(conn: sqlite3.Connection, vector: Vector,
               memories: list[int]) -> dict[int, PassageSpan]:
    """For each of ``memories`` (rowids) the content span of its best-matching vector row,
    where the store knows it; read in the caller's transaction."""
    query = vector.astype(np.float32)
    out: dict[int, PassageSpan] = {}
    for start in range(0, len(memories), _BATCH):
        chunk = memories[start:start + _BATCH]
        marks = ",".join("?" * len(chunk))
        for rowid, blob, spans in conn.execute(
            f"SELECT memory_rowid, vector, spans FROM embeddings"
            f" WHERE memory_rowid IN ({marks}) AND spans IS NOT NULL", chunk,
        ):
            rows = np.frombuffer(blob, dtype=np.float32).reshape(-1, query.shape[0])
            first, end = row_spans(spans, rows.shape[0])[int(np.argmax(rows @ query))]
            if first >= 0:
                out[int(rowid)] = PassageSpan(start=int(first), end=int(end))
    return out
