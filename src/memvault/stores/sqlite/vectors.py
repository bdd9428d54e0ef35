"""The in-memory vector matrix of one user, kept in step with the ``embeddings`` table.

Rows live in a preallocated buffer that grows by half again when full, so a search after an
add copies nothing (a matrix rebuilt by concatenation would copy every vector of the user on
the first search after each add: 150 MB at 100,000 memories). A memory stored with passage
vectors owns several consecutive rows, each with the content span it stands for (from the
``spans`` column: int32 start and end per row; -1 where it is unknown). Loading reads the
table a page at a time, so the peak is the buffer plus one page, not every blob at once.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import numpy.typing as npt

from memvault.stores.base import Vector

__all__ = ["UserVectors", "best_per_memory", "spans_blob"]

_PAGE = 4096
_GROWTH = 1.5


class UserVectors:
    """One user's vectors: ``matrix`` (rows x dimensions), ``owners`` (memory rowid per
    row) and ``spans`` (rows x 2), valid for ``generation`` and complete up to
    ``last_seq``."""

    def __init__(self, dimensions: int, generation: int) -> None:
        self.dimensions = dimensions
        self.generation = generation
        self.last_seq = 0
        self.size = 0
        self._rows: Vector = np.zeros((0, dimensions), dtype=np.float32)
        self._owners: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._spans: npt.NDArray[np.int32] = np.zeros((0, 2), dtype=np.int32)

    @property
    def matrix(self) -> Vector:
        return self._rows[: self.size]

    @property
    def owners(self) -> npt.NDArray[np.int64]:
        return self._owners[: self.size]

    @property
    def spans(self) -> npt.NDArray[np.int32]:
        return self._spans[: self.size]

    def _reserve(self, extra: int) -> None:
        needed = self.size + extra
        if needed <= self._rows.shape[0]:
            return
        capacity = max(needed, int(self._rows.shape[0] * _GROWTH), 64)
        rows = np.empty((capacity, self.dimensions), dtype=np.float32)
        owners = np.empty(capacity, dtype=np.int64)
        spans = np.empty((capacity, 2), dtype=np.int32)
        rows[: self.size] = self._rows[: self.size]
        owners[: self.size] = self._owners[: self.size]
        spans[: self.size] = self._spans[: self.size]
        self._rows, self._owners, self._spans = rows, owners, spans

    def top_up(self, conn: sqlite3.Connection, user_id: str) -> None:
        """Append the user's vectors stored after ``last_seq``."""
        (total,) = conn.execute(
            "SELECT coalesce(sum(length(vector)), 0) FROM embeddings"
            " WHERE user_id = ? AND seq > ?",
            (user_id, self.last_seq),
        ).fetchone()
        if not total:
            return
        self._reserve(int(total) // (4 * self.dimensions))
        cursor = conn.execute(
            "SELECT seq, memory_rowid, vector, spans FROM embeddings"
            " WHERE user_id = ? AND seq > ?"
            " ORDER BY seq",
            (user_id, self.last_seq),
        )
        while page := cursor.fetchmany(_PAGE):
            block = np.frombuffer(b"".join(r[2] for r in page), dtype=np.float32)
            block = block.reshape(-1, self.dimensions)
            counts = [len(r[2]) // (4 * self.dimensions) for r in page]
            self._reserve(block.shape[0])  # another process may have added rows meanwhile
            end = self.size + block.shape[0]
            self._rows[self.size:end] = block
            self._owners[self.size:end] = np.repeat([r[1] for r in page], counts)
            self._spans[self.size:end] = np.concatenate(
                [_spans(r[3], n) for r, n in zip(page, counts, strict=True)])
            self.size = end
            self.last_seq = page[-1][0]


def spans_blob(vector: Vector, spans: object) -> bytes | None:
    """``spans`` as stored: int32 pairs, one per row of ``vector``; ``None`` when there are
    none or they do not match the rows."""
    rows = 1 if vector.ndim == 1 else vector.shape[0]
    if not isinstance(spans, list | tuple) or len(spans) != rows:
        return None
    return np.asarray(spans, dtype=np.int32).reshape(rows, 2).tobytes()


def _spans(blob: bytes | None, rows: int) -> npt.NDArray[np.int32]:
    if blob is None or len(blob) != rows * 8:
        return np.full((rows, 2), -1, dtype=np.int32)
    return np.frombuffer(blob, dtype=np.int32).reshape(rows, 2)


def best_per_memory(scores: Vector, owners: npt.NDArray[np.int64], limit: int) -> list[int]:
    """Indices of the best-scoring row of each of the ``limit`` best memories, best first
    (a memory with passages has several rows)."""
    wanted = min(scores.shape[0], limit * 8)
    while True:
        top = np.argpartition(-scores, wanted - 1)[:wanted]
        top = top[np.argsort(-scores[top], kind="stable")]
        _, first = np.unique(owners[top], return_index=True)
        if first.shape[0] >= limit or wanted == scores.shape[0]:
            return [int(i) for i in top[np.sort(first)][:limit]]
        wanted = min(scores.shape[0], wanted * 4)
