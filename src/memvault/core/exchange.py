"""Export and import as JSONL: one JSON object a line.

The first line is a header, then one line per memory (oldest first, so importing rebuilds
each session's turn-to-turn links in order), then one line per profile fact, current,
superseded and retired (a fact line without ``retired_reason``, as older exports wrote them,
is a fact never retired), then the user's audit trail, oldest first (one line per
:class:`~memvault.models.AuditEntry`; an import reads past these lines: the trail is the
exporting store's record of what happened there, and the import records itself in the
importing store's trail)::

    {"type": "header", "format": "memvault-export", "version": 2, "exported_at": "..."}
    {"type": "memory", "id": "...", "user_id": "...", "content": "...", "occurred_at": "...", ...}
    {"type": "memory", ..., "memory_type": "deal", "data": {"account": "Acme", ...}}
    {"type": "profile_fact", "id": "...", "user_id": "...", "key": "...", "value": ..., ...}
    {"type": "audit", "id": "...", "user_id": "...", "subject": "key_...", "action": "add", ...}
    {"type": "end", "memories": 2, "profile_facts": 1, "audit": 1}

Fields are those of :class:`~memvault.models.Memory` and
:class:`~memvault.models.ProfileFact`, but that a typed memory's type is written as
``memory_type`` (the line's ``type`` says what the line is) with its ``data``; untyped
memories have neither. Version 2 added them; version 1 files (no typed memories) are read
as before. Version 3 ends with an ``end`` line counting the lines of each kind, so that a file
cut short, even at a line's end, is known: an import of a version 3 file without it (or
whose counts differ from its lines) imports nothing. Vectors are not exported; they are
rebuilt by the importing store's embedder.
Importing skips ids that already exist; records imported for another user than the one who
exported them (``user_id``) get ids derived from theirs, the same each time. A typed
memory's data is checked against its type's schema when the importing memvault configures
that type; a type it does not configure is kept as exported (its memories are still listed,
searched and filtered by type). Derived
memories (session summaries) are skipped, and counted as skipped, where the episodic store
cannot keep their marking (the graph stores).

An import checks every line as an add checks its input (ids, content, metadata, dates, profile
values and their limits) before it writes anything, but that it takes the integers past 64
bits and NUL characters in metadata and data that earlier versions stored
(:func:`~memvault.core.validate.check_json`'s ``legacy``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from memvault.core.audit import AuditLog
from memvault.core.ids import derived_id
from memvault.core.timeutil import parse_datetime, utc_now
from memvault.core.validate import (
    check_content,
    check_fact_value,
    check_identifier,
    check_json,
    check_metadata,
    check_profile_key,
    check_text,
    deep_key,
    nested_too_deep,
)
from memvault.errors import InvalidInput
from memvault.models import Derived, JsonValue, Memory, MemoryFilter, ProfileFact
from memvault.stores.base import EpisodicStore, NewMemory, ProfileStore, SummaryQueue

__all__ = [
    "FORMAT",
    "READABLE_VERSIONS",
    "RECORD_TYPES",
    "VERSION",
    "DataCheck",
    "ImportReport",
    "InvalidLine",
    "Limits",
    "export_lines",
    "import_lines",
    "list_all",
]

FORMAT = "memvault-export"
VERSION = 3
#: The versions an import reads.
READABLE_VERSIONS = (1, 2, 3)
#: The ``type`` of each kind of line in an export.
RECORD_TYPES = frozenset({"header", "memory", "profile_fact", "audit", "end"})
#: What the ``end`` line counts: the lines of each kind.
_COUNTED = ("memories", "profile_facts", "audit")
_PAGE = 1_000
_BATCH = 500
_SHOWN = 100  # invalid lines named in the error; the report lists them all
#: Checks a typed memory's data: ``(memory type, data) -> data``, or :class:`InvalidInput`.
DataCheck = Callable[[str, dict[str, JsonValue]], dict[str, JsonValue]]


class InvalidLine(BaseModel):
    """A line an import refused: its number (from 1) and what is wrong with it."""

    line: int
    message: str


class ImportReport(BaseModel):
    memories: int = 0
    profile_facts: int = 0
    skipped: int = 0
    invalid: list[InvalidLine] = Field(default_factory=list)


class Limits(BaseModel):
    """The limits an add applies, applied to imported lines as well."""

    max_content_bytes: int
    max_value_bytes: int


async def list_all(episodic: EpisodicStore, where: MemoryFilter) -> list[Memory]:
    """Every memory matching ``where``, newest first, read a page at a time."""
    found: list[Memory] = []
    before: tuple[datetime, str] | None = None
    while True:
        page = await episodic.list(where, limit=_PAGE, before=before)
        found.extend(page)
        if len(page) < _PAGE:
            return found
        before = (page[-1].occurred_at, page[-1].id)


async def export_lines(
    episodic: EpisodicStore, profile: ProfileStore, users: Sequence[str] | None
) -> AsyncIterator[str]:
    header = {"type": "header", "format": FORMAT, "version": VERSION,
              "exported_at": utc_now().isoformat()}
    yield json.dumps(header)
    if users is None:
        users = sorted(set(await episodic.user_ids()) | set(await profile.user_ids()))
    written = dict.fromkeys(_COUNTED, 0)
    for user in users:
        newest_first = await list_all(episodic, MemoryFilter(user_id=user))
        for memory in sorted(newest_first, key=lambda m: (m.created_at, m.id)):
            written["memories"] += 1
            yield json.dumps(_memory_line(memory))
        for fact in await profile.get(user, include_history=True):
            written["profile_facts"] += 1
            yield json.dumps({"type": "profile_fact", **fact.model_dump(mode="json")})
        async for entry in AuditLog(profile).entries(user):
            written["audit"] += 1
            yield json.dumps({"type": "audit", **entry.model_dump(mode="json")})
    yield json.dumps({"type": "end", **written})


async def import_lines(
    episodic: EpisodicStore,
    profile: ProfileStore,
    lines: Iterable[str | bytes],
    *,
    limits: Limits,
    user_id: str | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    after_add: Callable[[Sequence[Memory]], Awaitable[None]] | None = None,
    check_room: Callable[[str, Sequence[ProfileFact]], Awaitable[None]] | None = None,
    extract: Callable[[str], bool] | None = None,
    check_data: DataCheck | None = None,
) -> ImportReport:
    """Import an export, all or nothing: every line is checked as an add checks its input
    before anything is written. Bad lines raise :class:`InvalidInput` naming each line
    (``line N: field ...``), unless ``skip_invalid``: then the good lines are imported and the
    bad ones listed in :attr:`ImportReport.invalid`. ``user_id`` imports every memory and
    fact as that user's. ``check_room`` may refuse a user's facts (the key limit). Memories
    of the users for whom ``extract`` holds are queued for profile extraction with them.
    ``check_data(type, data)`` checks a typed memory's data (and returns it as stored)."""
    report = ImportReport()
    stored: dict[str, int] = {}
    memories: list[Memory] = []
    facts: list[ProfileFact] = []
    ending = _Ending()
    renamed: dict[str, str] = {}
    number = 0
    for number, line in enumerate(lines, start=1):
        try:
            parsed = _parse(line, number, limits, user_id, check_data, renamed)
            parsed = ending.see(parsed, number, blank=parsed is None)
        except InvalidInput as exc:
            report.invalid.append(InvalidLine(line=number, message=str(exc)))
            continue
        if isinstance(parsed, Memory):
            if parsed.derived is not None and not isinstance(episodic, SummaryQueue):
                report.skipped += 1  # a store that cannot mark it would show it as said
                continue
            if extract is not None and extract(parsed.user_id):
                parsed = NewMemory(**dict(parsed), extract=True)
            memories.append(parsed)
        elif isinstance(parsed, ProfileFact):
            facts.append(parsed)
    if (problem := ending.problem(bool(report.invalid))) is not None:
        report.invalid.append(InvalidLine(line=number + 1, message=problem))
    if report.invalid and not skip_invalid:
        shown = [problem.message for problem in report.invalid[:_SHOWN]]
        more = len(report.invalid) - len(shown)
        raise InvalidInput(
            "\n".join(shown) + (f"\n... and {more} more" if more else "")
            + f"\n{len(report.invalid)} invalid line(s): nothing was imported"
        )
    if renamed:
        memories, facts, already = await _earlier_copies(episodic, profile, memories, facts,
                                                         renamed)
        report.skipped += already
    if check_room is not None:
        for user in sorted({fact.user_id for fact in facts}):
            await check_room(user, [f for f in facts if f.user_id == user and f.valid_to is None])
    for start in range(0, len(memories), _BATCH):
        batch = memories[start:start + _BATCH]
        inserted = set(await episodic.add(batch))
        for memory in batch:
            if memory.id in inserted:
                stored[memory.user_id] = stored.get(memory.user_id, 0) + 1
        report.memories += len(inserted)
        report.skipped += len(batch) - len(inserted)
        if after_add is not None:
            await after_add([m for m in batch if m.id in inserted])
        if progress is not None:
            progress(len(batch))
    if facts:
        added = await profile.import_facts(facts)
        report.profile_facts += added
        report.skipped += len(facts) - added
    audit = AuditLog(profile)
    for user in sorted(stored.keys() | {f.user_id for f in facts}):
        await audit.record("import", user, detail={"memories": stored.get(user, 0)})
    return report


async def _earlier_copies(
    episodic: EpisodicStore, profile: ProfileStore, memories: list[Memory],
    facts: list[ProfileFact], renamed: dict[str, str],
) -> tuple[list[Memory], list[ProfileFact], int]:
    """The records left to import once those an earlier version imported for the same user
    under their exported ids (before ids were derived for another user) are left out, with
    references to them kept on those ids; and how many were left out."""
    users = {m.user_id for m in memories if m.id in renamed} | {
        f.user_id for f in facts if f.id in renamed}
    held: set[str] = set()  # exported ids the target user already has, as memories or facts
    for user in users:
        wanted = [renamed[m.id] for m in memories if m.user_id == user and m.id in renamed]
        held |= {m.id for m in await episodic.get(user, wanted)} if wanted else set()
        held |= {f.id for f in await profile.get(user, include_history=True)}

    def kept(memory_id: str) -> str:
        return renamed[memory_id] if renamed.get(memory_id) in held else memory_id

    fresh = [m if m.derived is None else m.model_copy(update={"derived": Derived(
                 kind=m.derived.kind, source_ids=[kept(i) for i in m.derived.source_ids])})
             for m in memories if kept(m.id) == m.id]
    new_facts = [f.model_copy(update={"source_memory_ids": [kept(i) for i in
                                                            f.source_memory_ids]})
                 for f in facts if kept(f.id) == f.id]
    return fresh, new_facts, len(memories) - len(fresh) + len(facts) - len(new_facts)


class _Marker(NamedTuple):
    """A line that is no record to import: the header, an audit entry, the end."""

    kind: Literal["header", "audit", "end"]
    values: dict[str, Any]


class _Ending:
    """Whether a file is whole: a version 3 export ends with its ``end`` line, whose counts
    are the lines of each kind before it. Exports joined one after another (``cat``) are
    each checked so: a header after an end line starts the next."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.end: dict[str, Any] | None = None
        self.seen = dict.fromkeys(_COUNTED, 0)
        self.done: list[tuple[int | None, dict[str, Any] | None, dict[str, int]]] = []

    def see(self, parsed: Memory | ProfileFact | _Marker | None, number: int, *,
            blank: bool) -> Memory | ProfileFact | None:
        """``parsed`` (line ``number``), counted; markers are taken in and give ``None``."""
        header = isinstance(parsed, _Marker) and parsed.kind == "header"
        if header and self.version is not None:  # the next export of a joined file
            self.done.append((self.version, self.end, self.seen))
            self.end, self.seen = None, dict.fromkeys(_COUNTED, 0)
        elif self.end is not None and not blank:
            raise InvalidInput(f"line {number}: comes after the end line (a next export "
                               "starts with its header)")
        if isinstance(parsed, Memory):
            self.seen["memories"] += 1
        elif isinstance(parsed, ProfileFact):
            self.seen["profile_facts"] += 1
        elif isinstance(parsed, _Marker):
            if parsed.kind == "header":
                self.version = parsed.values["version"]
            elif parsed.kind == "end":
                self.end = parsed.values
            else:
                self.seen["audit"] += 1
            return None
        return parsed

    def problem(self, invalid_lines: bool) -> str | None:
        """Why the file is not whole, or ``None``; counts are compared only when every line
        could be read (a bad line's kind is not known)."""
        for version, end, seen in [*self.done, (self.version, self.end, self.seen)]:
            if version is None or version < 3:
                continue
            if end is None:
                return ("the file ends without its end line: it was cut short (export it "
                        "again, or import what it holds with --skip-invalid)")
            if not invalid_lines and end != seen:
                counted = ", ".join(f"{end[k]} {k}" for k in _COUNTED)
                found = ", ".join(f"{seen[k]} {k}" for k in _COUNTED)
                return (f"the end line counts {counted}, the file holds {found}: lines are "
                        "missing")
        return None


def _parse(line: str | bytes, number: int, limits: Limits, user_id: str | None,
           check_data: DataCheck | None = None, renamed: dict[str, str] | None = None
           ) -> Memory | ProfileFact | _Marker | None:
    """One line → what it holds (``None`` for blank lines); every problem raises
    :class:`InvalidInput` starting ``line N:``. Ids given another user's (:func:`_user`)
    are recorded in ``renamed``, new id → exported id."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"line {number}: is not UTF-8 text (byte {exc.start})") from None
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
        kind = obj.pop("type")
    except RecursionError:  # deeper than json.loads reads: far past MAX_DEPTH
        raise InvalidInput(f"line {number}: {nested_too_deep(deep_key(line))}") from None
    except (ValueError, KeyError, AttributeError, TypeError):
        raise InvalidInput(f"line {number}: not a memvault export object") from None
    try:
        if kind == "header":
            if obj.get("format") != FORMAT or obj.get("version") not in READABLE_VERSIONS:
                raise InvalidInput(f"not a {FORMAT} file of version "
                                   f"{' or '.join(map(str, READABLE_VERSIONS))}")
            return _Marker("header", {"version": obj["version"]})
        if kind == "memory":
            return _memory(obj, limits, user_id, check_data, renamed)
        if kind == "profile_fact":
            return _fact(obj, limits, user_id, renamed)
        if kind == "audit":  # a store's own record of what happened there: not replayed
            return _Marker("audit", {})
        if kind == "end":
            counts = {name: obj.get(name) for name in _COUNTED}
            if set(obj) != set(_COUNTED) or not all(
                    type(n) is int and n >= 0 for n in counts.values()):
                raise InvalidInput(f"end must hold the counts {', '.join(_COUNTED)}")
            return _Marker("end", counts)
        raise InvalidInput(f"unknown type {check_json(kind, 'type')!r}")
    except InvalidInput as exc:
        raise InvalidInput(f"line {number}: {exc}") from None


def _fields(obj: dict[str, Any], model: type[BaseModel]) -> None:
    unknown = sorted(set(obj) - set(model.model_fields))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(map(repr, unknown))}")
    missing = [name for name, info in model.model_fields.items()
               if info.is_required() and name not in obj]
    if missing:
        raise InvalidInput(f"Field required: {', '.join(missing)}")


def _optional(obj: dict[str, Any], field: str) -> str | None:
    value = obj.get(field)
    return None if value is None else check_identifier(value, field)


def _user(obj: dict[str, Any], user_id: str | None, renamed: dict[str, str] | None = None
          ) -> tuple[str, Callable[[str], str]]:
    """The line's user (checked even when the import puts everything under ``user_id``: a
    line with a bad user id is a bad line whoever it is imported for), and what its ids
    become: the same ids for the user who exported them; for another user, ids derived from
    them (always the same, so importing twice still adds nothing), since ids are unique in a
    store and the exporting user's may be there already."""
    own = check_identifier(obj.get("user_id"), "user_id")
    if user_id is None or user_id == own:
        return own, _same

    def ids(exported: str) -> str:
        new = derived_id(exported, f"imported for {user_id}")
        if renamed is not None:
            renamed[new] = exported
        return new

    return user_id, ids


def _same(memory_id: str) -> str:
    return memory_id


def _memory_line(memory: Memory) -> dict[str, Any]:
    fields = memory.model_dump(mode="json", exclude={"type", "data"})
    if memory.type is not None:
        fields.update(memory_type=memory.type, data=memory.data or {})
    return {"type": "memory", **fields}


def _typed(obj: dict[str, Any], check_data: DataCheck | None
           ) -> tuple[str | None, dict[str, JsonValue] | None]:
    kind, data = obj.pop("memory_type", None), obj.pop("data", None)
    if kind is None:
        if data is not None:
            raise InvalidInput("data needs a memory_type")
        return None, None
    kind = check_identifier(kind, "memory_type")
    if not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object")
    checked = check_json(data, "data", legacy=True)
    assert isinstance(checked, dict)
    return kind, checked if check_data is None else check_data(kind, checked)


def _memory(obj: dict[str, Any], limits: Limits, user_id: str | None,
            check_data: DataCheck | None = None, renamed: dict[str, str] | None = None
            ) -> Memory:
    kind, data = _typed(obj, check_data)
    _fields(obj, Memory)
    entities = obj.get("entities", [])
    if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
        raise InvalidInput("entities must be a list of strings")
    user, ids = _user(obj, user_id, renamed)
    return Memory(
        id=ids(check_identifier(obj.get("id"), "id")),
        user_id=user,
        agent_id=_optional(obj, "agent_id"),
        session_id=_optional(obj, "session_id"),
        content=check_content(obj.get("content"), limits.max_content_bytes),
        occurred_at=parse_datetime(obj.get("occurred_at"), "occurred_at"),
        created_at=parse_datetime(obj.get("created_at"), "created_at"),
        metadata=check_metadata(obj.get("metadata"), legacy=True),
        source=_optional(obj, "source"),
        entities=[check_text(e, f"entities[{i}]") for i, e in enumerate(entities)],
        type=kind,
        data=data,
        derived=_derived(obj.get("derived"), ids),
    )


def _derived(value: object, ids: Callable[[str], str]) -> Derived | None:
    """A memory's ``derived`` marking: ``null`` or ``{"kind": "summary", "source_ids":
    [...]}``."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"kind", "source_ids"}:
        raise InvalidInput("derived must be null or {kind, source_ids}")
    if value.get("kind", "summary") != "summary":
        raise InvalidInput("derived.kind must be \"summary\"")
    sources = value.get("source_ids", [])
    if not isinstance(sources, list):
        raise InvalidInput("derived.source_ids must be a list of ids")
    return Derived(kind="summary", source_ids=[
        ids(check_identifier(s, f"derived.source_ids[{i}]")) for i, s in enumerate(sources)])


def _fact(obj: dict[str, Any], limits: Limits, user_id: str | None,
          renamed: dict[str, str] | None = None) -> ProfileFact:
    _fields(obj, ProfileFact)
    sources = obj.get("source_memory_ids", [])
    if not isinstance(sources, list):
        raise InvalidInput("source_memory_ids must be a list of ids")
    valid_to = obj.get("valid_to")
    user, ids = _user(obj, user_id, renamed)
    return ProfileFact(
        id=ids(check_identifier(obj.get("id"), "id")),
        user_id=user,
        key=check_profile_key(obj.get("key"), "key"),
        value=check_fact_value(obj.get("value"), "value", limits.max_value_bytes, legacy=True),
        category=check_profile_key(obj.get("category", "general"), "category"),
        source_memory_ids=[ids(check_identifier(m, f"source_memory_ids[{i}]"))
                           for i, m in enumerate(sources)],
        agent_id=_optional(obj, "agent_id"),
        valid_from=parse_datetime(obj.get("valid_from"), "valid_from"),
        valid_to=None if valid_to is None else parse_datetime(valid_to, "valid_to"),
        retired_reason=_optional(obj, "retired_reason"),
        origin=_origin(obj.get("origin", "stated")),
    )


def _origin(value: object) -> Literal["stated", "extracted"]:
    if value == "stated" or value == "extracted":
        return value
    raise InvalidInput("origin must be \"stated\" or \"extracted\"")
