"""The SQLite store's in-memory vector matrix: grows in place, one row per stored vector."""

from __future__ import annotations

import sqlite3

import numpy as np

from memvault.models import PassageSpan
from memvault.stores.sqlite.nearest import best_spans, nearest_with_spans
from memvault.stores.sqlite.vectors import UserVectors, best_per_memory, spans_blob


def _table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE embeddings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                 " memory_rowid INTEGER, user_id TEXT, vector BLOB, spans BLOB)")
    return conn


def _store(conn: sqlite3.Connection, rowid: int, rows: np.ndarray, user: str = "u") -> None:
    conn.execute("INSERT INTO embeddings (memory_rowid, user_id, vector) VALUES (?, ?, ?)",
                 (rowid, user, rows.astype(np.float32).tobytes()))


def test_top_ups_append_rows_and_keep_owners() -> None:
    conn = _table()
    cache = UserVectors(dimensions=2, generation=0)
    cache.top_up(conn, "u")
    assert cache.matrix.shape == (0, 2)
    expected_owners: list[int] = []
    for rowid in range(1, 301):  # many small top-ups: the buffer grows several times
        rows = np.full((1 + rowid % 3, 2), float(rowid))
        _store(conn, rowid, rows)
        _store(conn, rowid, rows, user="other")
        expected_owners += [rowid] * rows.shape[0]
        if rowid % 7 == 0:
            cache.top_up(conn, "u")
    cache.top_up(conn, "u")
    assert cache.owners.tolist() == expected_owners
    first = cache.matrix
    assert first is not None
    assert first[:, 0].tolist() == [float(r) for r in expected_owners]
    cache.top_up(conn, "u")  # nothing new: the same rows, nothing copied
    again = cache.matrix
    assert again is not None
    assert again.base is first.base


def test_a_vector_hit_names_the_span_of_its_best_row() -> None:
    conn = _table()
    rows = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    conn.execute("INSERT INTO embeddings (memory_rowid, user_id, vector, spans)"
                 " VALUES (1, 'u', ?, ?)",
                 (rows.tobytes(), spans_blob(rows, [(0, 30), (0, 12), (13, 30)])))
    _store(conn, 2, rows[:2])  # no spans known
    assert spans_blob(rows, [(0, 1)]) is None  # not one per row: not kept
    query = np.array([0.0, 1.0], dtype=np.float32)
    assert best_spans(conn, query, [1, 2]) == {1: PassageSpan(start=13, end=30)}
    assert best_spans(conn, np.array([1.0, 0.0], dtype=np.float32), [1]) == {
        1: PassageSpan(start=0, end=30)}


def test_exact_search_takes_spans_from_memory_as_the_table_gives_them() -> None:
    conn = _table()
    rows = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    conn.execute("INSERT INTO embeddings (memory_rowid, user_id, vector, spans)"
                 " VALUES (1, 'u', ?, ?)",
                 (rows.tobytes(), spans_blob(rows, [(0, 30), (0, 12), (13, 30)])))
    _store(conn, 2, rows[:2])
    cache = UserVectors(dimensions=2, generation=0)
    cache.top_up(conn, "u")
    for query in (np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([0.6, 0.8])):
        found, spans = nearest_with_spans(conn, cache, query.astype(np.float32), 2, None)
        assert spans == best_spans(conn, query, [rowid for rowid, _ in found])
    found, spans = nearest_with_spans(conn, cache, np.array([0.0, 1.0], dtype=np.float32), 2,
                                      np.array([2], dtype=np.int64))
    assert [rowid for rowid, _ in found] == [2]
    assert spans == {}


def test_best_per_memory_returns_each_memory_once() -> None:
    scores = np.array([0.9, 0.8, 0.95, 0.1, 0.85], dtype=np.float32)
    owners = np.array([1, 1, 2, 3, 2])
    assert best_per_memory(scores, owners, 2) == [2, 0]
    assert best_per_memory(scores, owners, 5) == [2, 0, 3]
