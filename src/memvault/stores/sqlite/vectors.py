"""The vectors of one user, kept in step with the ``embeddings`` table.

Below a size threshold the rows live in a float32 matrix and search is exact: a preallocated
buffer that grows by half again when full, so a search after an add copies nothing. From the
threshold on (when usearch is installed) the rows go into an HNSW graph of int8 vectors
(:mod:`memvault.stores.sqlite.ann`) and no float32 copy is kept in memory; the graph proposes
candidates that the store rescores from the stored blobs. Either way each row knows its memory
(``owners``) and its ``embeddings.seq``, so a memory may own any number of rows (one per
passage), and deletes by other processes are applied by dropping the rows whose seq is gone
rather than by reloading everything. Loading reads the table a page at a time.
"""

from __future__ import annotations

import logging
import sqlite3

import numpy as np
import numpy.typing as npt

from memvault.stores.base import Vector
from memvault.stores.sqlite import ann

__all__ = ["UserVectors", "best_per_memory", "row_spans", "spans_blob"]

log = logging.getLogger(__name__)

_PAGE = 4096
_GROWTH = 1.5
#: Past this share of deleted rows the graph is rebuilt rather than patched.
_MAX_DEAD = 0.3


class UserVectors:
    """One user's vector rows, valid for ``generation`` and complete up to ``last_seq``.

    ``owners`` holds the memory rowid of each row and ``seqs`` its ``embeddings.seq``;
    ``alive`` is false for rows deleted since they were loaded. ``matrix`` is the float32 rows
    in exact mode and ``None`` once ``graph`` holds them. ``ann_min`` is the row count from
    which the graph is used (``None``: never).
    """

    def __init__(self, dimensions: int, generation: int, ann_min: int | None = None) -> None:
        self.dimensions = dimensions
        self.generation = generation
        self.ann_min = ann_min if ann.available() else None
        self.last_seq = 0
        self.size = 0
        self.dead = 0
        self.graph: ann.AnnGraph | None = None
        #: Rows added or removed since the graph was last saved.
        self.unsaved = 0
        self._rows: Vector | None = np.zeros((0, dimensions), dtype=np.float32)
        self._owners: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._seqs: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)
        #: The content span of each row in exact mode (-1 where unknown), so a search finds
        #: its hits' passages without reading the blobs again; empty once the graph holds them.
        self._spans: npt.NDArray[np.int32] = np.zeros((0, 2), dtype=np.int32)

    @property
    def matrix(self) -> Vector | None:
        return None if self._rows is None else self._rows[: self.size]

    @property
    def owners(self) -> npt.NDArray[np.int64]:
        return self._owners[: self.size]

    @property
    def seqs(self) -> npt.NDArray[np.int64]:
        return self._seqs[: self.size]

    @property
    def spans(self) -> npt.NDArray[np.int32] | None:
        """Each row's (start, end) content span, -1 where unknown; ``None`` in graph mode."""
        return None if self._rows is None else self._spans[: self.size]

    @property
    def alive(self) -> npt.NDArray[np.bool_]:
        return self._alive[: self.size]

    @property
    def live_rows(self) -> int:
        return self.size - self.dead

    def restore(self, owners: npt.NDArray[np.int64], seqs: npt.NDArray[np.int64],
                alive: npt.NDArray[np.bool_], last_seq: int, graph: ann.AnnGraph) -> None:
        """Take the state of a saved graph (see :mod:`memvault.stores.sqlite.vector_files`)."""
        self._rows = None
        self._owners, self._seqs, self._alive = owners.copy(), seqs.copy(), alive.copy()
        self.size = int(owners.shape[0])
        self.dead = int(self.size - np.count_nonzero(alive))
        self.last_seq = last_seq
        self.graph = graph

    def _reserve(self, extra: int) -> None:
        needed = self.size + extra
        if needed <= self._owners.shape[0]:
            return
        capacity = max(needed, int(self._owners.shape[0] * _GROWTH), 64)
        if self._rows is not None:
            rows = np.empty((capacity, self.dimensions), dtype=np.float32)
            rows[: self.size] = self._rows[: self.size]
            self._rows = rows
            spans = np.full((capacity, 2), -1, dtype=np.int32)
            spans[: self.size] = self._spans[: self.size]
            self._spans = spans
        for name in ("_owners", "_seqs", "_alive"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def _start_graph(self, sample: Vector) -> None:
        """Move the rows into a new graph; the float32 matrix is dropped."""
        existing = self.matrix
        assert existing is not None
        probe = existing if existing.shape[0] else sample
        try:
            graph = ann.AnnGraph(self.dimensions, ann.AnnGraph.scale_for(probe))
        except RuntimeError as exc:  # installed, but it does not load: search stays exact
            log.warning("no approximate index: %s", exc)
            self.ann_min = None
            return
        self.graph = graph
        for start in range(0, self.size, _PAGE):
            self.graph.add(start, existing[start:start + _PAGE])
        self.unsaved = self.size
        self._rows = None
        self._spans = np.zeros((0, 2), dtype=np.int32)

    def incoming(self, conn: sqlite3.Connection, user_id: str) -> int:
        """How many of the user's vector rows are stored after ``last_seq``."""
        (total,) = conn.execute(
            "SELECT coalesce(sum(length(vector)), 0) FROM embeddings"
            " WHERE user_id = ? AND seq > ?",
            (user_id, self.last_seq),
        ).fetchone()
        return int(total) // (4 * self.dimensions)

    def wants_graph(self, incoming: int) -> bool:
        """Whether adding ``incoming`` rows moves the rows into a graph."""
        return (self.graph is None and self.ann_min is not None
                and self.live_rows + incoming >= self.ann_min)

    def top_up(self, conn: sqlite3.Connection, user_id: str, incoming: int | None = None, *,
               limit: int | None = None) -> bool:
        """Append the user's vectors stored after ``last_seq`` (``incoming`` of them, when
        the caller has counted them), or only the next ``limit`` memories' vectors; says
        whether any were read."""
        if incoming is None:
            incoming = self.incoming(conn, user_id)
        if not incoming:
            return False
        wants_graph = self.wants_graph(incoming)
        self._reserve(incoming if limit is None else 0)
        cursor = conn.execute(
            "SELECT seq, memory_rowid, vector, spans FROM embeddings"
            " WHERE user_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (user_id, self.last_seq, -1 if limit is None else limit),
        )
        read = False
        while page := cursor.fetchmany(_PAGE):
            block = np.frombuffer(b"".join(r[2] for r in page), dtype=np.float32)
            block = block.reshape(-1, self.dimensions)
            counts = [len(r[2]) // (4 * self.dimensions) for r in page]
            if wants_graph:
                self._start_graph(block)
                wants_graph = False
            self._reserve(block.shape[0])  # another process may have added rows meanwhile
            end = self.size + block.shape[0]
            if self.graph is not None:
                self.graph.add(self.size, block)
                self.unsaved += block.shape[0]
            else:
                assert self._rows is not None
                self._rows[self.size:end] = block
                self._spans[self.size:end] = np.concatenate(
                    [row_spans(r[3], n) for r, n in zip(page, counts, strict=True)])
            self._owners[self.size:end] = np.repeat([r[1] for r in page], counts)
            self._seqs[self.size:end] = np.repeat([r[0] for r in page], counts)
            self._alive[self.size:end] = True
            self.size = end
            self.last_seq = page[-1][0]
            read = True
        return read

    def prune(self, conn: sqlite3.Connection, user_id: str) -> bool:
        """Drop the rows whose ``embeddings`` row is gone (deleted memories, a reset).

        Returns false when so much is gone that the caller should load afresh instead. Run in
        the same read transaction as the :meth:`top_up` that follows."""
        live = np.fromiter(
            (r[0] for r in conn.execute(
                "SELECT seq FROM embeddings WHERE user_id = ? AND seq <= ?",
                (user_id, self.last_seq))),
            dtype=np.int64,
        )
        keep = np.isin(self.seqs, live, assume_unique=False)
        if self.graph is None:
            kept = int(np.count_nonzero(keep))
            if kept == self.size:
                return True
            assert self._rows is not None
            for name in ("_rows", "_spans", "_owners", "_seqs", "_alive"):
                old = getattr(self, name)
                setattr(self, name, old[: self.size][keep].copy())
            self.size = kept
            return True
        gone = np.flatnonzero(self.alive & ~keep)
        if gone.shape[0] == 0:
            return True
        self._alive[gone] = False
        self.dead += int(gone.shape[0])
        if self.dead > _MAX_DEAD * self.size:
            return False
        self.graph.remove(gone)
        self.unsaved += int(gone.shape[0])
        return True


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


def spans_blob(vector: Vector, spans: object) -> bytes | None:
    """``spans`` as stored in ``embeddings.spans``: int32 (start, end) pairs, one per row of
    ``vector``; ``None`` when there are none or they do not match the rows."""
    rows = 1 if vector.ndim == 1 else vector.shape[0]
    if not isinstance(spans, list | tuple) or len(spans) != rows:
        return None
    return np.asarray(spans, dtype=np.int32).reshape(rows, 2).tobytes()


def row_spans(blob: bytes | None, rows: int) -> npt.NDArray[np.int32]:
    """The stored spans of a memory's ``rows`` vector rows; -1 where unknown."""
    if blob is None or len(blob) != rows * 8:
        return np.full((rows, 2), -1, dtype=np.int32)
    return np.frombuffer(blob, dtype=np.int32).reshape(rows, 2)
