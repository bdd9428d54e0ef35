"""FTS5's BM25, computed outside FTS5, and its top passages without scoring every match.

``SELECT rowid, rank FROM passages_fts WHERE passages_fts MATCH 'a OR b OR c' ORDER BY rank``
computes ``bm25()`` for every passage that holds any of the phrases (FTS5 reads each one's
length and positions, about 2 microseconds a passage) and sorts them all; with a common word
among the phrases that is much of the file. :func:`top_passages` returns the same best
passages after scoring only the passages that hold a rarer phrase, in the manner of MaxScore
(Turtle and Flood, 1995):

1. Each phrase's document frequency comes from the index's ``row`` vocabulary (``term = ?``
   seeks the term and reads that term's postings only, no passage lengths or scores; a phrase
   of several tokens is counted by a ``MATCH`` of that phrase). With FTS5's row count and
   token count (its averages record) that gives FTS5's own idf, and an upper bound of what the
   phrase can add to one passage's score (:func:`bound`: BM25 at the most occurrences one
   passage can hold, one more than the term's instances beyond one a passage, in a passage no
   longer than those occurrences).
2. Phrases held by more than :data:`COMMON_SHARE` of the passages are left out; the others
   are essential. Two index queries score only passages that hold an essential phrase: the
   essential phrases alone, and the essential phrases ``AND`` any left-out one (scored by
   FTS5 with every phrase); the second's best are rescored here with FTS5's formula,
   constants and order of summation from their analysed text, and a passage of the first
   kind with no left-out phrase already has its full score, so every returned score is
   FTS5's own, to the bit.
3. **The result equals the full ranking** when the ``pool``-th best of those scores is above
   the sum of the left-out phrases' bounds: no passage without an essential phrase can reach
   the pool. When it is not, fewer phrases are left out (the most common ones whose bounds sum
   below that score) and the check is made once more. The index ranks every match itself (as
   ``ORDER BY rank LIMIT`` always did) when the check still fails, when every phrase is common
   or none is, when the left-out phrases hold fewer postings than the essential ones, or when
   there are at most :data:`DIRECT_POSTINGS` postings in all (every small store: the same
   query as before, ties included). Passages with equal scores at the ``pool``-th place may be
   cut in another order than FTS5's sorter cuts them.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "COMMON_SHARE", "DIRECT_POSTINGS", "K1", "B", "Phrase", "Ranking", "bound", "create_tables",
    "documents", "exact", "full_ranking", "idf", "index_tokens", "phrase", "top_passages",
    "varints",
]

#: BM25 constants, FTS5's own.
K1, B = 1.2, 0.75
#: With at most this many postings over all phrases the index ranks every match itself.
DIRECT_POSTINGS = 20_000
#: A phrase held by more than this share of the passages is common (not essential) at first.
#: The result does not depend on it, only the cost: at a million passages, 2 % took the least
#: time over 200 queries of the scale benchmark of 1 %, 2 % and 4 %.
COMMON_SHARE = 0.02
_BATCH = 500
#: Relative slack on the bounds, against rounding in the sums.
_SLACK = 1e-9

_WORDS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_words USING fts5"
    " (content, content='', tokenize=\"{tokenize}\")"
)
_WORDS_TERMS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_words_terms"
    " USING fts5vocab(temp, lexical_words, instance)"
)
_INDEX_ROWS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_index_rows"
    " USING fts5vocab(main, passages_fts, row)"
)
#: Index tokens of query words already seen (the tokenizer is fixed), in order, bounded.
_STEMS: dict[str, tuple[str, ...]] = {}
_STEMS_KEPT = 50_000


def create_tables(conn: sqlite3.Connection, tokenize: str) -> None:
    """The temporary tables this module reads (idempotent)."""
    for create in (_WORDS, _WORDS_TERMS, _INDEX_ROWS):
        conn.execute(create.format(tokenize=tokenize.replace('"', '""')))


def phrase(text: str) -> str:
    """``text`` as one FTS5 phrase."""
    return '"' + text.replace('"', '""') + '"'


def idf(total: int, documents: int) -> float:
    """FTS5's inverse document frequency, floored like FTS5's."""
    value = math.log((total - documents + 0.5) / (documents + 0.5))
    return value if value > 0 else 1e-6


def index_tokens(conn: sqlite3.Connection, words: Sequence[str]) -> list[tuple[str, ...]]:
    """Each word's index tokens in order, by the index's tokenizer (written to a temporary
    table: run inside a savepoint that the caller rolls back)."""
    # Answered from this call's own dict: the shared cache may be emptied meanwhile (by this
    # call when it is full, or by another thread's).
    known: dict[str, tuple[str, ...]] = {}
    unknown: list[str] = []
    for word in dict.fromkeys(words):
        cached = _STEMS.get(word)
        if cached is None:
            unknown.append(word)
        else:
            known[word] = cached
    if unknown:
        conn.execute("INSERT INTO temp.lexical_words (lexical_words) VALUES ('delete-all')")
        conn.executemany("INSERT INTO temp.lexical_words (rowid, content) VALUES (?, ?)",
                         list(enumerate(unknown)))
        found: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for term, doc, offset in conn.execute(
                "SELECT term, doc, offset FROM temp.lexical_words_terms"):
            found[doc].append((offset, term))
        new = {word: tuple(t for _, t in sorted(found.get(i, ())))
               for i, word in enumerate(unknown)}
        if len(_STEMS) > _STEMS_KEPT:
            _STEMS.clear()
        _STEMS.update(new)
        known.update(new)
    return [known[w] for w in words]


@dataclass(frozen=True)
class Phrase:
    """One query word as the index matches it: its tokens (in order), how many passages hold
    it, FTS5's idf for it and the most it can add to one passage's score."""

    text: str
    tokens: tuple[str, ...]
    documents: int
    idf: float
    bound: float


@dataclass
class Ranking:
    """The best passages as ``(rowid, rank)`` (FTS5's rank: the negated score), best first,
    and what it cost: ``postings`` the index scored (an upper bound: the sum of the scored
    phrases' document frequencies, over every query run), ``rounds`` of essential-only
    queries, ``exact`` candidates scored outside the index; ``direct`` when the index ranked
    every match in the end."""

    passages: list[tuple[int, float]]
    direct: bool = False
    postings: int = 0
    rounds: int = 0
    exact: int = 0
    phrases: list[Phrase] = field(default_factory=list)


def _averages(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """FTS5's row count and token count (its averages record), or ``None``."""
    row = conn.execute("SELECT block FROM passages_fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return None
    values = varints(bytes(row[0]))
    return (values[0], values[1]) if len(values) >= 2 and values[0] > 0 else None


def documents(conn: sqlite3.Connection, words: Sequence[str]) -> tuple[int, list[int]]:
    """The file's passage count and how many passages hold each word as a phrase."""
    averages = _averages(conn)
    if averages is None:
        return 0, [0] * len(words)
    total, tokens = averages
    return total, [p.documents for p in _phrases(conn, words, total, tokens / total)]


def varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints, as FTS5 writes them (values below 2**56): its averages
    record, and a docsize record (one token count per column)."""
    out: list[int] = []
    value = 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            out.append(value)
            value = 0
    return out


def bound(weight: float, most: int, mean_length: float) -> float:
    """The most a phrase of idf ``weight`` adds to one passage's score when it occurs at most
    ``most`` times in a passage: BM25 grows with the frequency and falls with the length, and a
    passage holding ``tf`` occurrences has at least ``tf`` tokens."""
    tf = float(most)
    return weight * (tf * (K1 + 1.0)) / (tf + K1 * (1 - B + B * tf / mean_length))


def _phrases(conn: sqlite3.Connection, words: Sequence[str], total: int, mean_length: float
             ) -> list[Phrase]:
    out = []
    for word, tokens in zip(words, index_tokens(conn, words), strict=True):
        if not tokens:
            out.append(Phrase(word, tokens, 0, idf(total, 0), 0.0))
            continue
        stats = []
        for token in dict.fromkeys(tokens):
            row = conn.execute("SELECT doc, cnt FROM temp.lexical_index_rows WHERE term = ?",
                               (token,)).fetchone()
            stats.append((0, 0) if row is None else (int(row[0]), int(row[1])))
        # The most occurrences in one passage: one more than the term's surplus over one a
        # passage; a phrase occurs no more often than its rarest-repeated token.
        most = min(cnt - doc + 1 for doc, cnt in stats)
        if any(doc == 0 for doc, _ in stats):
            documents = 0
        elif len(tokens) == 1:
            documents = stats[0][0]
        else:
            documents = int(conn.execute(
                "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                (phrase(word),)).fetchone()[0])
        weight = idf(total, documents)
        out.append(Phrase(word, tokens, documents, weight,
                          bound(weight, most, mean_length) if documents else 0.0))
    return out


def _index_ranks(conn: sqlite3.Connection, match: str, limit: int
                 ) -> list[tuple[int, float]]:
    """The index's best ``limit`` passages for the FTS5 expression ``match``, best first."""
    return [(int(r), float(s)) for r, s in conn.execute(
        "SELECT rowid, rank FROM passages_fts WHERE passages_fts MATCH ?"
        " ORDER BY rank LIMIT ?", (match, limit))]


def exact(conn: sqlite3.Connection, phrases: Sequence[Phrase], rowids: Sequence[int],
          mean_length: float) -> dict[int, float]:
    """FTS5's score of each passage for all ``phrases``, computed as FTS5's bm25() does
    with the phrases' ``idf`` and ``mean_length`` (the file's, or one user's).

    A passage's tokens are those of its stored analysed text: the index's tokenizer never
    joins across a space, so they are the tokens of each space-separated word in turn (each
    word tokenized once by :func:`index_tokens`)."""
    out: dict[int, float] = {}
    wanted = {t for p in phrases for t in p.tokens}
    for start in range(0, len(rowids), _BATCH):
        chunk = rowids[start:start + _BATCH]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT rowid, analysed, length FROM passages WHERE rowid IN ({marks})", chunk,
        ).fetchall()
        words = {w for _, text, _ in rows for w in text.split()}
        stems = dict(zip(words, index_tokens(conn, list(words)), strict=True))
        for rowid, text, length in rows:
            positions: dict[str, list[int]] = defaultdict(list)
            offset = 0
            for word in text.split():
                for token in stems[word]:
                    if token in wanted:
                        positions[token].append(offset)
                    offset += 1
            norm = K1 * (1 - B + B * float(length) / mean_length)
            score = 0.0
            for p in phrases:
                tf = _occurrences(positions, p.tokens)
                if tf:
                    f = float(tf)
                    score += p.idf * ((f * (K1 + 1.0)) / (f + norm))
            out[rowid] = score
    return out


def _occurrences(positions: dict[str, list[int]], tokens: tuple[str, ...]) -> int:
    """How often the phrase of ``tokens`` occurs (FTS5's phrase instances)."""
    if not tokens or tokens[0] not in positions:
        return 0
    first = positions[tokens[0]]
    if len(tokens) == 1:
        return len(first)
    rest = [set(positions.get(t, ())) for t in tokens[1:]]
    return sum(1 for start in first
               if all(start + j + 1 in held for j, held in enumerate(rest)))


def top_passages(conn: sqlite3.Connection, words: Sequence[str], pool: int) -> Ranking:
    """The ``pool`` best passages of the whole index for any of ``words`` (index tokens'
    words, each one phrase), as FTS5's ``ORDER BY rank LIMIT pool`` ranks them (see the
    module's docstring for when the essential-only path is taken and why it is exact).

    Needs :func:`create_tables` and a savepoint that the caller rolls back."""
    averages = _averages(conn)
    if averages is None:
        return _direct(conn, words, pool, [])
    total, tokens = averages
    mean_length = tokens / total
    phrases = _phrases(conn, words, total, mean_length)
    if sum(p.documents for p in phrases) <= DIRECT_POSTINGS:
        return _direct(conn, words, pool, phrases)
    left_out = [p for p in phrases if p.documents > COMMON_SHARE * total]
    out = Ranking([], phrases=phrases)
    while left_out and len(left_out) < len(phrases) and out.rounds < 2:
        essential = [p for p in phrases if p not in left_out]
        if sum(p.documents for p in left_out) < sum(p.documents for p in essential):
            break  # too little left out to pay for the essential queries
        out.rounds += 1
        out.postings += sum(p.documents for p in essential)
        best = _essential_best(conn, essential, left_out, phrases, pool, mean_length)
        out.exact += len(best)
        if len(best) < pool:
            break
        threshold = best[pool - 1][1]
        if threshold > sum(p.bound for p in left_out) * (1 + _SLACK):
            out.passages = [(r, -s) for r, s in best[:pool]]
            return out
        # Leave out only the most common phrases whose bounds sum below the threshold.
        kept: list[Phrase] = []
        for p in sorted(left_out, key=lambda p: p.bound):
            if (sum(q.bound for q in kept) + p.bound) * (1 + _SLACK) >= threshold:
                break
            kept.append(p)
        left_out = kept
    direct = _direct(conn, words, pool, phrases)
    direct.postings += out.postings
    direct.rounds, direct.exact = out.rounds, out.exact
    return direct


def _essential_best(conn: sqlite3.Connection, essential: Sequence[Phrase],
                    left_out: Sequence[Phrase], phrases: Sequence[Phrase], pool: int,
                    mean_length: float) -> list[tuple[int, float]]:
    """The ``pool`` best passages holding an essential phrase, by their score for all
    ``phrases``, as ``(rowid, score)``, best first.

    Two index queries: the essential phrases alone (a passage with none of the others scores
    just that, summed in FTS5's order, as the essential phrases keep the query's order), and
    the essential phrases AND any other (scored with every phrase; rescored here so that the
    sum runs in the query's order). A passage of the second kind outside its best ``pool``
    has a first-query score below all of those, so the best of the two lists are the best."""
    either = " OR ".join(phrase(p.text) for p in essential)
    others = " OR ".join(phrase(p.text) for p in left_out)
    scores = {r: -rank for r, rank in _index_ranks(conn, either, pool)}
    both = [r for r, _ in _index_ranks(conn, f"({either}) AND ({others})", pool)]
    scores.update(exact(conn, phrases, both, mean_length))
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:pool]


def full_ranking(conn: sqlite3.Connection, words: Sequence[str], pool: int) -> Ranking:
    """FTS5's own ``ORDER BY rank LIMIT pool`` over every passage that holds any of
    ``words``: what :func:`top_passages` must equal (for measuring and testing it)."""
    return _direct(conn, words, pool, [])


def _direct(conn: sqlite3.Connection, words: Sequence[str], pool: int,
            phrases: list[Phrase]) -> Ranking:
    match = " OR ".join(phrase(w) for w in words)
    ranked = [(int(r), float(s)) for r, s in conn.execute(
        "SELECT rowid, rank FROM passages_fts WHERE passages_fts MATCH ?"
        " ORDER BY rank LIMIT ?", (match, pool))]
    return Ranking(ranked, direct=True, postings=sum(p.documents for p in phrases),
                   phrases=phrases)
