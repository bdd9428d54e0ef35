"""Importing other tools' exports: records from :mod:`memvault.core.importers`, validated
as an add validates its input, then written in batches through ``add_outcomes``.

Idempotent and resumable: each record's memory id and idempotency key are derived from its
user and its key in the source (:attr:`Record.key`), so importing a file again adds nothing,
and an import killed midway is finished by running it again (every batch is committed on
its own; the ones already stored are skipped). A record that came from memvault (a Markdown
export) keeps its id, so importing an export back adds nothing either.

All or nothing for bad records: every record is read and checked before the first is
written, and one bad record imports none (unless ``skip_invalid``), the error naming each by
its position (``conversations.json: conversation 3, message 7: content is empty ...``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from memvault.core.exchange import ImportReport, InvalidLine
from memvault.core.ids import stable_id
from memvault.core.importers import Problem, Record
from memvault.core.validate import check_content, check_identifier, check_metadata
from memvault.errors import InvalidInput
from memvault.models import AddOutcome, MemoryInput

__all__ = ["BATCH", "Writer", "import_records"]

BATCH = 256
_SHOWN = 100


@dataclass(frozen=True)
class Writer:
    """What the driver writes through: ``add(items, user)`` (:meth:`Memvault.add_outcomes`)
    and ``known(user, ids)``, the ids of these the user already has. ``check(item, user)``,
    when given, checks an item as the add will (a typed memory's data against its schema)
    and raises :class:`InvalidInput`; it runs on every record before the first is written."""

    add: Callable[[list[MemoryInput], str], Awaitable[list[AddOutcome]]]
    known: Callable[[str, list[str]], Awaitable[set[str]]]
    check: Callable[[MemoryInput, str], object] | None = None


def _item(record: Record, user: str, max_content_bytes: int) -> MemoryInput:
    """The add a record makes, checked; :class:`InvalidInput` names the field. A typed
    record's empty content is left for the add to render from its data."""
    content: str | None = record.content
    if record.memory_type is None or record.content:
        content = check_content(record.content, max_content_bytes)
    else:
        content = None
    for field in ("session_id", "agent_id", "source"):
        value = getattr(record, field)
        if value is not None:
            check_identifier(value, field)
    metadata = check_metadata(record.metadata)
    name = f"{user}\x00{record.key}"
    millis = 0 if record.occurred_at is None else int(record.occurred_at.timestamp() * 1000)
    memory_id = record.memory_id or stable_id(millis, name)
    check_identifier(memory_id, "id")
    key = "import:" + hashlib.blake2b(name.encode("utf-8", "surrogatepass"),
                                      digest_size=16).hexdigest()
    return MemoryInput(
        content=content, session_id=record.session_id, agent_id=record.agent_id,
        metadata=metadata, source=record.source, id=memory_id, idempotency_key=key,
        occurred_at=None if record.occurred_at is None else record.occurred_at.isoformat(),
        type=record.memory_type, data=record.data,
    )


async def import_records(
    writer: Writer,
    records: Iterable[Record | Problem],
    *,
    default_user: str,
    user_id: str | None = None,
    max_content_bytes: int,
    skip_invalid: bool = False,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
    after_batch: Callable[[int], Awaitable[None]] | None = None,
) -> ImportReport:
    """Import ``records``: each as ``user_id``'s when given, else as its own user's (a mem0
    record's), else as ``default_user``'s. ``progress`` is called with the number of records
    each batch went through; ``after_batch`` with the number of batches written so far."""
    report = ImportReport()
    ready: list[tuple[str, MemoryInput]] = []
    for number, record in enumerate(records, start=1):
        if isinstance(record, Problem):
            report.invalid.append(InvalidLine(line=number,
                                              message=f"{record.position}: {record.message}"))
            continue
        try:
            user = check_identifier(user_id or record.user_id or default_user, "user_id")
            item = _item(record, user, max_content_bytes)
            if writer.check is not None:
                writer.check(item, user)
            ready.append((user, item))
        except InvalidInput as exc:
            report.invalid.append(InvalidLine(line=number,
                                              message=f"{record.position}: {exc}"))
    if report.invalid and not skip_invalid:
        shown = [problem.message for problem in report.invalid[:_SHOWN]]
        more = len(report.invalid) - len(shown)
        raise InvalidInput(
            "\n".join(shown) + (f"\n... and {more} more" if more else "")
            + f"\n{len(report.invalid)} invalid record(s): nothing was imported")
    size = max(1, batch_size)
    for batches, start in enumerate(range(0, len(ready), size), start=1):
        batch = ready[start:start + size]
        for user in dict.fromkeys(u for u, _ in batch):
            await _write(writer, user, [item for u, item in batch if u == user], report)
        if progress is not None:
            progress(len(batch))
        if after_batch is not None:
            await after_batch(batches)
    return report


async def _write(writer: Writer, user: str, items: Sequence[MemoryInput],
                 report: ImportReport) -> None:
    known = await writer.known(user, [str(item.id) for item in items])
    fresh = [item for item in items if item.id not in known]
    report.skipped += len(items) - len(fresh)
    if not fresh:
        return
    outcomes = await writer.add(fresh, user)
    replayed = sum(outcome.replayed for outcome in outcomes)
    report.memories += len(outcomes) - replayed
    report.skipped += replayed
