"""The timeline of a profile key, as pure functions over the key's stored rows; every profile
store runs them inside one transaction that holds the key.

A row is a statement: the value a key was given at one instant (``valid_from``, the source
memory's ``occurred_at``). Statements of one value at one instant share a row and its
sources. The live rows (``retired_reason`` is ``None``) form the key's timeline, ordered by
``valid_from``:

* each live row lasts until the next statement, so intervals never overlap and are never
  empty; the last one has ``valid_to = None``: it is the current value. The order
  statements arrive in does not matter, only when they happened: an older statement goes
  into the history at its place and never replaces a newer one.
* a different value stated at exactly the instant of a live row replaces it: the earlier
  written row is retired (:data:`REPLACED`).
* a row whose every source was deleted is retired (:data:`SOURCE_DELETED`): the statement is
  withdrawn. The value in effect before it is not restored: from the withdrawn statement's
  time until the next statement nothing is known (when the withdrawn row was the current
  value, the key has no current value). A withdrawn statement that only repeated the value
  in effect changes nothing and is not shown.
* a key forgotten (:func:`forget_key`) has its current value retired (:data:`FORGOTTEN`,
  ``valid_to`` = when it was forgotten): like a withdrawal, the value before it does not
  come back, and the key has no current value until a statement newer than the forgotten
  one.

* a retraction (a row stored retired as :data:`RETRACTED`, ``valid_to = valid_from``: "I'm
  not vegan any more") ends the live row in effect at its instant when that row holds the
  value retracted, like a withdrawal; otherwise it ends nothing. It is kept in the history;
  when its sources are deleted it is deleted (the retraction is withdrawn).

A retired row keeps its value and ``valid_from``; its ``valid_to`` is when it was retired.

Rows read as facts (:func:`as_facts`): consecutive live rows of one value and category are
one fact (the first row's id, the first ``valid_from``, the last ``valid_to``, every source),
so restating a value only adds sources; retired rows are facts of their own.

The outcome depends only on the statements and withdrawals, not on the order they were
written in (except which of two different values at one instant was written last), so
concurrent writers that serialise per key leave the same timeline as one writer would.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby

from memvault.models import ProfileFact

__all__ = [
    "FORGOTTEN", "REPLACED", "RETRACTED", "SOURCE_DELETED", "Edit", "as_facts", "forget",
    "forget_key", "holding", "place", "undo",
]

#: ``retired_reason`` of a row whose sources were all deleted.
SOURCE_DELETED = "source_deleted"
#: ``retired_reason`` of a row replaced by another value stated at the same instant.
REPLACED = "replaced"
#: ``retired_reason`` of a retraction: a statement that the value no longer holds.
RETRACTED = "retracted"
#: ``retired_reason`` of a current value forgotten on request (:func:`forget_key`).
FORGOTTEN = "forgotten"


@dataclass(frozen=True)
class Edit:
    """What an operation changes in one key's rows.

    ``writes`` are the rows to store (new ones are in ``inserted``), in an order that keeps at
    most one row with ``valid_to = None`` after each write; ``holder`` is the row that holds
    a placed statement; ``deleted`` are rows to remove (:func:`undo`); ``retired`` counts
    the facts this edit retired because their sources were deleted (a withdrawn repetition
    of the value in effect retires none).
    """

    writes: list[ProfileFact]
    inserted: frozenset[str]
    holder: str | None = None
    retired: int = 0
    deleted: frozenset[str] = frozenset()


def place(rows: Sequence[ProfileFact], fact: ProfileFact, at: datetime) -> Edit:
    """Put the statement ``fact`` into the timeline of its key, whose rows are ``rows``.

    Its ``valid_to`` and ``retired_reason`` are derived, not taken from ``fact``. ``at`` is the
    time of the write (the ``valid_to`` of a row it replaces).
    """
    work = {row.id: row for row in rows}
    if fact.retired_reason == RETRACTED:
        retraction = fact.model_copy(update={"valid_to": fact.valid_from})
        work[retraction.id] = retraction
        return _edit(rows, work.values(), at, holder=retraction.id)
    statement = fact.model_copy(update={"valid_to": None, "retired_reason": None})
    ties = sorted((r for r in rows if r.retired_reason is None
                   and r.valid_from == statement.valid_from), key=lambda r: r.id)
    tie = ties[-1] if ties else None
    if tie is not None and _same(tie, statement):
        work[tie.id] = tie.model_copy(update={
            "source_memory_ids": _union([tie.source_memory_ids, statement.source_memory_ids])})
        holder = tie.id
    else:
        if tie is not None:
            work[tie.id] = _retire(tie, REPLACED, at)
        work[statement.id] = statement
        holder = statement.id
    return _edit(rows, work.values(), at, holder=holder)


def forget(rows: Sequence[ProfileFact], memory_ids: Collection[str], at: datetime) -> Edit:
    """Drop ``memory_ids`` from the sources of ``rows`` (one key's); a live row left without
    sources is retired at ``at`` (:data:`SOURCE_DELETED`)."""
    gone = set(memory_ids)
    work: list[ProfileFact] = []
    retired: set[str] = set()
    deleted: set[str] = set()
    for row in rows:
        if gone.intersection(row.source_memory_ids):
            kept = [i for i in row.source_memory_ids if i not in gone]
            if not kept and row.retired_reason == RETRACTED:
                deleted.add(row.id)
                continue
            if not kept and row.retired_reason is None:
                row = _retire(row, SOURCE_DELETED, at)
                retired.add(row.id)
            row = row.model_copy(update={"source_memory_ids": kept})
        work.append(row)
    _, silent = _walk(work)
    edit = _edit(rows, work, at, retired=len(retired - silent))
    return replace(edit, deleted=frozenset(deleted)) if deleted else edit


def forget_key(rows: Sequence[ProfileFact], at: datetime) -> Edit:
    """Forget the current value of one key whose rows are ``rows``: every live row of the
    current fact is retired at ``at`` (:data:`FORGOTTEN`); nothing else changes. No current
    value: an empty edit (``retired`` 0)."""
    runs = [(fact, members) for fact, members in _runs(rows) if fact.valid_to is None
            and fact.retired_reason is None]
    if not runs:
        return Edit(writes=[], inserted=frozenset())
    members = runs[-1][1]
    work = [_retire(row, FORGOTTEN, at) if row.id in members else row for row in rows]
    return _edit(rows, work, at, retired=1)


def undo(rows: Sequence[ProfileFact], memory_ids: Collection[str], at: datetime) -> Edit:
    """Take back the statements of ``memory_ids`` as if they were never made (an add that did
    not land whole): the ids leave every row's sources and a row left with none is deleted,
    not retired, so the timeline is laid out again without it."""
    gone = set(memory_ids)
    work: list[ProfileFact] = []
    deleted: set[str] = set()
    for row in rows:
        if gone.intersection(row.source_memory_ids):
            kept = [i for i in row.source_memory_ids if i not in gone]
            if not kept:
                deleted.add(row.id)
                continue
            row = row.model_copy(update={"source_memory_ids": kept})
        work.append(row)
    return replace(_edit(rows, work, at), deleted=frozenset(deleted))


def as_facts(rows: Iterable[ProfileFact]) -> list[ProfileFact]:
    """One user's rows as facts: the current ones ordered by key, then the rest, the most
    recently ended first."""
    facts: list[ProfileFact] = []
    for _, key_rows in groupby(sorted(rows, key=lambda r: r.key), key=lambda r: r.key):
        facts += [fact for fact, _ in _runs(list(key_rows))]
    current = sorted((f for f in facts if f.valid_to is None), key=lambda f: f.key)
    ended = [f for f in facts if f.valid_to is not None]
    ended.sort(key=lambda f: (f.key, f.id))
    ended.sort(key=lambda f: f.valid_to or f.valid_from, reverse=True)
    return current + ended


def holding(rows: Sequence[ProfileFact], row_id: str) -> ProfileFact:
    """The fact, as :func:`as_facts` reads one key's ``rows``, that holds the row ``row_id``."""
    for fact, members in _runs(rows):
        if row_id in members:
            return fact
    raise KeyError(row_id)


def _same(a: ProfileFact, b: ProfileFact) -> bool:
    return a.value == b.value and a.category == b.category


def _union(lists: Iterable[Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(i for ids in lists for i in ids))


def _retire(row: ProfileFact, reason: str, at: datetime) -> ProfileFact:
    return row.model_copy(update={"valid_to": at, "retired_reason": reason})


def _runs(rows: Sequence[ProfileFact]) -> list[tuple[ProfileFact, set[str]]]:
    """One key's rows as facts, each with the ids of the rows it is made of."""
    _, silent = _walk(rows)
    runs: list[tuple[ProfileFact, set[str]]] = []
    last: ProfileFact | None = None
    for row in sorted(rows, key=lambda r: (r.retired_reason is not None, r.valid_from, r.id)):
        if row.retired_reason is not None:
            if row.id not in silent:
                runs.append((row, {row.id}))
            continue
        if last is not None and last.valid_to == row.valid_from and _same(last, row):
            fact, members = runs[-1]
            runs[-1] = (fact.model_copy(update={
                "valid_to": row.valid_to,
                "source_memory_ids": _union([fact.source_memory_ids, row.source_memory_ids]),
            }), members | {row.id})
        else:
            runs.append((row, {row.id}))
        last = row
    return runs


def _walk(rows: Iterable[ProfileFact]) -> tuple[dict[str, datetime | None], set[str]]:
    """Where each live row of one key ends, and which withdrawn rows only repeated the value
    in effect (they end nothing). Live rows must not share an instant."""
    live = [r for r in rows if r.retired_reason is None]
    withdrawn = [r for r in rows
                 if r.retired_reason in (SOURCE_DELETED, RETRACTED, FORGOTTEN)]
    # A withdrawal at the instant of a live statement sorts first: the statement stands.
    events = sorted([*live, *withdrawn],
                    key=lambda r: (r.valid_from, r.retired_reason is None, r.id))
    ends: dict[str, datetime | None] = {}
    silent: set[str] = set()
    open_row: ProfileFact | None = None
    for row in events:
        if row.retired_reason is None:
            if open_row is not None:
                ends[open_row.id] = row.valid_from
            open_row = row
        elif row.retired_reason == RETRACTED:
            if open_row is not None and open_row.value == row.value:
                ends[open_row.id] = row.valid_from
                open_row = None
        elif open_row is not None and _same(open_row, row):
            silent.add(row.id)
        elif open_row is not None:
            ends[open_row.id] = row.valid_from
            open_row = None
    if open_row is not None:
        ends[open_row.id] = None
    return ends, silent


def _layout(rows: Iterable[ProfileFact], at: datetime) -> list[ProfileFact]:
    """``rows`` (one key's) with every live row's ``valid_to`` derived from the statements;
    of live rows sharing an instant (written before these rules), the last id is kept."""
    result = {row.id: row for row in rows}
    live: list[ProfileFact] = []
    for row in sorted((r for r in result.values() if r.retired_reason is None),
                      key=lambda r: (r.valid_from, r.id)):
        if live and live[-1].valid_from == row.valid_from:
            result[live[-1].id] = _retire(live[-1], REPLACED, at)
            live[-1] = row
        else:
            live.append(row)
    ends, _ = _walk(result.values())
    for row in live:
        if row.valid_to != ends[row.id]:
            result[row.id] = row.model_copy(update={"valid_to": ends[row.id]})
    return list(result.values())


def _edit(
    before: Sequence[ProfileFact], work: Iterable[ProfileFact], at: datetime, *,
    holder: str | None = None, retired: int = 0,
) -> Edit:
    old = {row.id: row for row in before}
    after = _layout(work, at)
    changed = [row for row in after if old.get(row.id) != row]
    # Rows that stop being current are written before the row that becomes current.
    changed.sort(key=lambda row: row.valid_to is None)
    return Edit(writes=changed, inserted=frozenset(r.id for r in changed if r.id not in old),
                holder=holder, retired=retired)
