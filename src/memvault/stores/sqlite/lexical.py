"""Full-text search of the embedded store: passages in FTS5, BM25 from the user's own statistics.

Each memory's content is cut into passages (:func:`memvault.passages.split`); a passage is one
row of ``passages`` (its memory and user, its character span, its number of indexed tokens,
its analysed text) and one document of the contentless FTS5 table ``passages_fts``.
``lexical_users`` keeps each user's number of passages and tokens.

What the index holds is the passage's tokens by :func:`memvault.analysis.tokens` (CJK
bigrams, script changes split, indicators whole), joined by spaces; FTS5's tokenizer
(:data:`TOKENIZE`) keeps each of them one token (the punctuation of addresses and paths is
made token characters) and stems English words with Porter's rules. A query's words go
through the same analysis and the same tokenizer.

FTS5's ``bm25()`` weighs terms by statistics of the whole file. When the file holds one
user's passages only (the usual embedded case) those are the user's statistics, and the index
ranks alone: its best ``pool`` passages as ``ORDER BY rank LIMIT`` gives them, without joining
every matching row, and without scoring the passages that hold only common query words when
BM25's bounds show they cannot reach the pool (:func:`memvault.stores.sqlite.bm25.top_passages`).
When other users share the file, the index only proposes candidates (the user's best ``pool``
passages by its ranking) and they are scored again with FTS5's formula
and constants from the user's statistics alone: the user's passage count and mean length, and
how many of the user's passages hold each term; each passage's phrase instances are counted
from its analysed text as FTS5 counts them (:func:`memvault.stores.sqlite.bm25.exact`, the
same code that checks the single-user ranking). Either way a user's scores depend on that
user's memories only. A memory scores by its best passage plus :data:`OTHER_PASSAGES` of its
other matching passages' scores.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from memvault.analysis import joined
from memvault.analysis import tokens as analyse
from memvault.models import Candidate, PassageSpan
from memvault.passages import split
from memvault.stores.sqlite import bm25
from memvault.stores.sqlite.progress import Progress

__all__ = ["OTHER_PASSAGES", "TOKENIZE", "analysed", "index_memory", "ranking", "reindex",
           "search"]

#: FTS5's tokenizer for analysed text: a space ends a token, the punctuation that whole
#: tokens hold (addresses, paths, URLs) does not; Porter stems what is left.
TOKENIZE = "porter unicode61 tokenchars '-./:@\\_+~%&?#='"

#: The share of a memory's other matching passages added to its best passage's score.
OTHER_PASSAGES = 0.1
#: Candidate passages taken from the index per memory asked for, and at least.
_PER_RESULT, _AT_LEAST = 2, 40
#: In a shared file, a word whose weight for the user relative to the query's other words
#: is this many times its weight in the file brings its own best passages as candidates.
_UNDERWEIGHED = 1.25


def analysed(text: str, *, query: bool = False) -> str:
    """``text`` as the index holds it (``query``: as a search asks for it), its analysed
    tokens joined by spaces."""
    return joined(text, query=query)


def index_memory(conn: sqlite3.Connection, rowid: int, user_id: str, content: str) -> None:
    """Index one stored memory's passages and count them in the user's statistics."""
    count = tokens = 0
    for start, end in split(content):
        text = analysed(content[start:end])
        passage = conn.execute(
            "INSERT INTO passages (memory_rowid, user_id, span_start, span_end, length,"
            " analysed) VALUES (?, ?, ?, ?, 0, ?)",
            (rowid, user_id, start, end, text),
        ).lastrowid
        conn.execute("INSERT INTO passages_fts (rowid, content) VALUES (?, ?)",
                     (passage, text))
        row = conn.execute("SELECT sz FROM passages_fts_docsize WHERE id = ?",
                           (passage,)).fetchone()
        length = bm25.varints(row[0])[0] if row else 0
        conn.execute("UPDATE passages SET length = ? WHERE rowid = ?", (length, passage))
        count += 1
        tokens += length
    if count:
        conn.execute(
            "INSERT INTO lexical_users (user_id, passages, tokens) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET passages = passages + excluded.passages,"
            " tokens = tokens + excluded.tokens",
            (user_id, count, tokens),
        )


def reindex(conn: sqlite3.Connection) -> None:
    """Index every stored memory (a migration step: the passage tables are empty), with a
    progress bar on a terminal (:class:`~memvault.stores.sqlite.progress.Progress`)."""
    total = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    last = 0
    with Progress("re-indexing full text", total) as progress:
        while rows := conn.execute(
            "SELECT rowid, user_id, content FROM memories WHERE rowid > ?"
            " ORDER BY rowid LIMIT 1000",
            (last,),
        ).fetchall():
            for rowid, user_id, content in rows:
                index_memory(conn, rowid, user_id, content)
            last = rows[-1][0]
            progress.advance(len(rows))


def search(
    conn: sqlite3.Connection, user_id: str, words: Sequence[str], *, limit: int,
    clause: str | None = None, params: Sequence[object] = (),
) -> list[Candidate]:
    """The user's best ``limit`` memories for any of ``words``, best first.

    Each word is analysed as the index's text is; each of its tokens is searched for.

    ``clause`` (SQL on alias ``m``, with ``params``) narrows the memories searched beyond
    the user; without it the index alone picks the candidates.
    """
    words = _query_tokens(words)
    if not words:
        return []
    with _snapshot(conn):
        return _search(conn, user_id, words, limit=limit, clause=clause, params=params)


def ranking(conn: sqlite3.Connection, words: Sequence[str], *, limit: int) -> bm25.Ranking:
    """What :func:`search` asks of the index for ``words`` and ``limit`` in a file that holds
    one user's passages, with its cost (:class:`~memvault.stores.sqlite.bm25.Ranking`); for
    measurement. Reads only (in a savepoint it rolls back)."""
    with _snapshot(conn):
        return bm25.top_passages(conn, _query_tokens(words), _pool(limit))


def _query_tokens(words: Sequence[str]) -> list[str]:
    """Each word analysed as a search's, its tokens once each, in order."""
    return list(dict.fromkeys(t for w in words for t in analyse(w, query=True)))


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One snapshot for the candidates and the statistics, rolled back after (which also
    empties the table that tokenizes the query's words)."""
    bm25.create_tables(conn, TOKENIZE)
    conn.execute("SAVEPOINT lexical_search")
    try:
        yield
    finally:
        conn.execute("ROLLBACK TO lexical_search")
        conn.execute("RELEASE lexical_search")


def _pool(limit: int) -> int:
    return max(limit * _PER_RESULT, _AT_LEAST)


def _search(
    conn: sqlite3.Connection, user_id: str, words: Sequence[str], *, limit: int,
    clause: str | None, params: Sequence[object],
) -> list[Candidate]:
    match = " OR ".join(bm25.phrase(w) for w in words)
    pool = _pool(limit)
    owners = conn.execute("SELECT user_id FROM lexical_users WHERE passages > 0 LIMIT 2")
    if [r[0] for r in owners] != [user_id]:
        return _shared(conn, user_id, words, limit=limit, clause=clause, params=params)
    # The file's statistics are the user's: the index's BM25 is the answer.
    if clause is None:
        picked = bm25.top_passages(conn, words, pool).passages
    else:
        picked = _candidates(conn, match, user_id, clause, params, pool)
    rank = dict(picked)
    return _by_memory((-rank[r[0]], r[1], r[2], r[3])
                      for r in _passages(conn, user_id, list(rank)))[:limit]


def _shared(
    conn: sqlite3.Connection, user_id: str, words: Sequence[str], *, limit: int,
    clause: str | None, params: Sequence[object],
) -> list[Candidate]:
    """:func:`_search` in a file other users share: candidates from the index, scored with
    the user's own statistics."""
    stats = conn.execute("SELECT passages, tokens FROM lexical_users WHERE user_id = ?",
                         (user_id,)).fetchone()
    if stats is None or stats[0] <= 0:
        return []
    total, mean_length = stats[0], max(stats[1] / stats[0], 1e-9)
    phrases = []
    for word, tokens in zip(words, bm25.index_tokens(conn, words), strict=True):
        documents = _documents(conn, user_id, word)
        phrases.append(bm25.Phrase(word, tokens, documents, bm25.idf(total, documents), 0.0))
    pool = _pool(limit)
    match = " OR ".join(bm25.phrase(w) for w in words)
    seen = dict(_candidates(conn, match, user_id, clause, params, pool))
    # The file's statistics order those candidates. A word that weighs more for the user,
    # against the others, than for the file (rare among the user's memories, common among
    # everyone's) may have its passages ranked out of them: its own best join them.
    for phrase in _underweighed(conn, phrases):
        for rowid, score in _candidates(conn, bm25.phrase(phrase.text), user_id, clause,
                                        params, pool):
            seen.setdefault(rowid, score)
    passages = _passages(conn, user_id, list(seen))
    scores = bm25.exact(conn, phrases, [p[0] for p in passages], mean_length)
    return _by_memory((scores.get(rowid, 0.0), memory_id, start, end)
                      for rowid, memory_id, start, end, _ in passages)[:limit]


def _underweighed(conn: sqlite3.Connection, phrases: Sequence[bm25.Phrase]
                  ) -> list[bm25.Phrase]:
    """The phrases whose weight for the user, relative to the others', exceeds their weight
    in the whole file by more than :data:`_UNDERWEIGHED`."""
    if len(phrases) < 2:
        return []
    total, documents = bm25.documents(conn, [p.text for p in phrases])
    if total <= 0:
        return []
    ratios = [p.idf / bm25.idf(total, held) for p, held in zip(phrases, documents, strict=True)]
    lowest = min(ratios)
    return [p for p, ratio in zip(phrases, ratios, strict=True)
            if p.documents and ratio > lowest * _UNDERWEIGHED]


def _passages(conn: sqlite3.Connection, user_id: str, rowids: Sequence[int]
              ) -> list[tuple[int, str, int, int, int]]:
    """``(rowid, memory id, span start, span end, length)`` of the user's passages."""
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    return [(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in conn.execute(
        "SELECT p.rowid, m.id, p.span_start, p.span_end, p.length"
        " FROM passages p JOIN memories m ON m.rowid = p.memory_rowid"
        f" WHERE p.rowid IN ({marks}) AND +p.user_id = ?",
        (*rowids, user_id),
    )]


def _candidates(conn: sqlite3.Connection, match: str, user_id: str, clause: str | None,
                params: Sequence[object], pool: int) -> list[tuple[int, float]]:
    """The user's best ``pool`` passages for the FTS5 expression ``match`` by the index's
    ranking, as ``(rowid, rank)``."""
    join = "" if clause is None else " JOIN memories m ON m.rowid = p.memory_rowid"
    return [(int(r), float(k)) for r, k in conn.execute(
        "SELECT f.rowid, f.rank FROM passages_fts f JOIN passages p ON p.rowid = f.rowid"
        f"{join} WHERE passages_fts MATCH ? AND p.user_id = ?"
        f"{'' if clause is None else ' AND ' + clause} ORDER BY f.rank LIMIT ?",
        (match, user_id, *params, pool),
    )]


def _by_memory(passages: Iterable[tuple[float, str, int, int]]) -> list[Candidate]:
    """Memories from scored passages ``(score, memory id, start, end)``, best first."""
    found: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    for score, memory_id, start, end in passages:
        if score > 0:
            found[memory_id].append((score, start, end))
    ranked = []
    for memory_id, scored in found.items():
        scored.sort(reverse=True)
        best, start, end = scored[0]
        others = sum(s for s, _, _ in scored[1:])
        ranked.append(Candidate(memory_id=memory_id, score=best + OTHER_PASSAGES * others,
                                span=PassageSpan(start=start, end=end)))
    ranked.sort(key=lambda c: (-c.score, c.memory_id))
    return ranked


def _documents(conn: sqlite3.Connection, user_id: str, word: str) -> int:
    """How many of the user's passages hold ``word`` (as the index matches it)."""
    row = conn.execute(
        "SELECT count(*) FROM passages_fts f JOIN passages p ON p.rowid = f.rowid"
        " WHERE passages_fts MATCH ? AND p.user_id = ?",
        (bm25.phrase(word), user_id),
    ).fetchone()
    return int(row[0])
