"""Memvault's export and import methods, kept apart from the core class they belong to.

:class:`Transfers` is a base of :class:`~memvault.core.memvault.Memvault`; its methods use
the Memvault's stores and checks (they are typed on ``self``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import anyio

from memvault.core import exchange, importers, importing, notes
from memvault.core.importers.files import read_source
from memvault.core.timeutil import utc_now
from memvault.errors import InvalidInput
from memvault.models import AddOutcome, MemoryInput
from memvault.stores.registry import names_store_file

if TYPE_CHECKING:
    from memvault.core.memvault import Memvault

__all__ = ["Transfers"]


class Transfers:
    """Export and import; see :class:`~memvault.core.memvault.Memvault`."""

    def _core(self) -> Memvault:
        return cast("Memvault", self)

    def export(self, *, user_id: str | None = None, all_users: bool = False
               ) -> AsyncIterator[str]:
        """JSONL lines (no newline) of the user's memories and profile, or of every user."""
        mv = self._core()
        users = None if all_users else [mv._user(user_id)]
        return exchange.export_lines(mv.episodic, mv.profile, users)

    async def import_lines(
        self, lines: Iterable[str | bytes], *, user_id: str | None = None,
        skip_invalid: bool = False, progress: Callable[[int], None] | None = None,
    ) -> exchange.ImportReport:
        """Import an export; ids already present are skipped, so importing twice is safe, and
        memories already present without a vector get one.

        Every line is checked as an add is; one bad line imports nothing and raises
        :class:`InvalidInput` naming each bad line, unless ``skip_invalid`` (then the report
        lists them). ``user_id`` imports everything as that user's (default: the file's).
        """
        mv = self._core()
        limits = exchange.Limits(max_content_bytes=mv.config.max_content_bytes,
                                 max_value_bytes=mv.config.max_profile_value_bytes)
        with mv._foreground.write():
            report = await exchange.import_lines(
                mv.episodic, mv.profile, lines, limits=limits,
                user_id=None if user_id is None else mv._user(user_id),
                skip_invalid=skip_invalid, progress=progress, after_add=mv._after_add,
                check_room=mv._corrections.room, extract=mv.extraction.wants,
                check_data=mv.types.check_known,
            )
        mv.extraction.notify()
        if report.skipped:
            mv.embedding.notify()  # an earlier run may have stored them without vectors
        return report

    async def import_from(
        self,
        source: str | Path | bytes,
        *,
        format: str = "jsonl",
        name: str | None = None,
        user_id: str | None = None,
        all_users: bool = False,
        mapping: Mapping[str, str] | str | None = None,
        skip_invalid: bool = False,
        batch_size: int = importing.BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> exchange.ImportReport:
        """Import another tool's export: ``format`` is ``jsonl`` (memvault's own export, or
        any JSON lines with ``mapping``), ``chatgpt``, ``claude``, ``mem0``, ``markdown`` or
        ``csv``. ``source`` is a path (a file, a folder, a ZIP archive) or the file's bytes
        (``name`` then names it in positions).

        Idempotent and resumable (see :mod:`memvault.core.importing`): importing again adds
        nothing and finishes an import cut short. Everything is imported as the user's
        (``user_id``, default the configured one) unless ``all_users``: then each record
        keeps its own user when it has one (mem0, mapped tables, memvault's JSONL). Records
        are checked as adds are; one bad record imports nothing and raises
        :class:`InvalidInput` naming each by position, unless ``skip_invalid``.
        ``progress(done, total)`` is called after each batch written.
        """
        mv = self._core()
        mapping = importers.parse_mapping(mapping) if isinstance(mapping, str) else mapping
        if format not in importers.FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(importers.FORMATS)}, "
                               f"got {format!r}")
        if not isinstance(source, bytes):
            await anyio.to_thread.run_sync(_not_a_store_file, Path(source), [
                mv.config.episodic_url, mv.config.profile_url, mv.config.working_url])
        files = (await anyio.to_thread.run_sync(read_source, Path(source), format)
                 if not isinstance(source, bytes) else [(name or f"{format} body", source)])
        target = None if all_users else mv._user(user_id)
        if format == "jsonl" and not mapping and all(_is_export(d) for _, d in files):
            lines = [line for _, data in files for line in data.splitlines()]
            total = sum(b'"type": "memory"' in line or b'"type":"memory"' in line
                        for line in lines)
            return await mv.import_lines(lines, user_id=target, skip_invalid=skip_invalid,
                                           progress=_counting(progress, total))

        def records() -> Iterable[importers.Record | importers.Problem]:
            for file_name, data in files:
                yield from importers.parse(format, file_name, data, mapping)

        async def known(user: str, ids: list[str]) -> set[str]:
            return {m.id for m in await mv.episodic.get(user, ids)}

        async def add(items: list[MemoryInput], user: str
                      ) -> list[AddOutcome]:
            return await mv.add_outcomes(items, user_id=user)

        def check(item: MemoryInput, user: str) -> object:
            return mv._build(item, user, utc_now())

        parsed = await anyio.to_thread.run_sync(lambda: list(records()))
        report = await importing.import_records(
            importing.Writer(add=add, known=known, check=check), parsed,
            default_user=mv._user(None), user_id=target,
            max_content_bytes=mv.config.max_content_bytes, skip_invalid=skip_invalid,
            batch_size=batch_size,
            progress=_counting(progress, sum(isinstance(r, importers.Record) for r in parsed)),
        )
        if report.skipped:
            mv.embedding.notify()  # a run cut short may have stored them without vectors
        return report

    async def export_markdown(self, directory: str | Path, *,
                              user_id: str | None = None) -> list[Path]:
        """Write the user's memories as Markdown notes under ``directory`` (one per session,
        and ``profile.md``; see :mod:`memvault.core.notes`); returns the files written."""
        mv = self._core()
        user = mv._user(user_id)
        root = Path(directory)
        written: list[Path] = []
        async for relative, text in notes.export_notes(mv.episodic, mv.profile, user):
            target = root / relative
            await anyio.to_thread.run_sync(_write, target, text)
            written.append(target)
        return written


def _counting(progress: Callable[[int, int], None] | None, total: int
              ) -> Callable[[int], None] | None:
    """``progress(done, total)`` fed by calls saying how many more are done."""
    if progress is None:
        return None
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        progress(min(done, total), total)

    return step


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _is_export(data: bytes) -> bool:
    """Whether JSONL without a mapping is read as memvault's own export: unless its first
    line is a JSON object without a ``type`` of the export's (then it is a table of
    records)."""
    first = next((line for line in data.splitlines() if line.strip()), b"")
    try:
        row = json.loads(first)
    except (ValueError, RecursionError):
        return True
    return not isinstance(row, dict) or row.get("type") in exchange.RECORD_TYPES


def _not_a_store_file(path: Path, urls: list[str]) -> None:
    """Refuse to import the store's own file, or one SQLite keeps beside it, by any name:
    reading it here would drop this process's locks on it, and it is no export."""
    if names_store_file(path, urls):
        raise InvalidInput(f"{path} is this memvault's own store file: import an export of "
                           "it instead (memvault export)")
