"""``memvault export`` and ``memvault import``: leaving and arriving.

Export writes memvault's JSONL (everything, importable anywhere) or Markdown notes (one per
session, and a profile page). Import reads memvault's JSONL and the exports of ChatGPT,
Claude, mem0, Markdown notes and generic JSONL/CSV (:mod:`memvault.core.importers`);
importing again adds nothing, so an import cut short is finished by running it again.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from click._termui_impl import ProgressBar

from memvault.core.importers import FORMATS
from memvault.core.importing import BATCH
from memvault.core.memvault import Memvault

__all__ = ["export", "import_"]

#: Test hook: ``N:FILE`` makes an import write FILE after its Nth batch and then wait (at
#: most a minute) to be killed, so that a test can interrupt it at a known point.
PAUSE_ENV = "MEMVAULT_TEST_IMPORT_PAUSE"
_PAUSE_SECONDS = 60.0


@click.command()
@click.argument("output", type=click.Path(allow_dash=True), default="-")
@click.option("--to", "to", type=click.Choice(["jsonl", "markdown"]), default="jsonl",
              show_default=True, help="jsonl: everything, for `memvault import`; markdown: "
              "readable notes, one per session, and profile.md, in the folder OUTPUT.")
@click.option("--all-users", is_flag=True, help="Export every user, not only --user "
              "(jsonl only).")
@click.pass_context
def export(ctx: click.Context, output: str, to: str, all_users: bool) -> None:
    """Write memories and profile as JSONL to OUTPUT (default: stdout), or as Markdown notes
    into the folder OUTPUT."""
    from memvault.interfaces.cli import main

    config = main._config(ctx)
    if to == "markdown":
        if output == "-" or all_users:
            raise click.ClickException("--to markdown writes into a folder: give OUTPUT, "
                                       "and one user (no --all-users)")
        if Path(output).exists() and not Path(output).is_dir():
            raise click.ClickException(f"{output} is a file: give a folder for the notes")

        async def notes() -> int:
            async with Memvault(config, embedder=None) as mv:
                return len(await mv.export_markdown(output))

        count = main._run(notes)
        click.echo(f"wrote {count} notes to {output}", err=True)
        return

    async def action() -> int:
        count = 0
        async with Memvault(config, embedder=None) as mv:
            with click.open_file(output, "w", encoding="utf-8") as handle:
                async for line in mv.export(all_users=all_users):
                    handle.write(line + "\n")
                    count += 1
        return count

    count = main._run(action)
    if output != "-":
        click.echo(f"wrote {count} lines to {output}", err=True)


@click.command(name="import")
@click.argument("source", type=click.Path(exists=True, allow_dash=True))
@click.option("--from", "from_", type=click.Choice(FORMATS), default="jsonl",
              show_default=True, help="What SOURCE is: jsonl (a memvault export, or JSON lines "
              "with --map), chatgpt or claude (conversations.json, the export's folder or "
              "ZIP), mem0 (its JSON export), markdown (a .md file or a folder of them), csv.")
@click.option("--map", "mapping", metavar="FIELD=COLUMN,...", help="For csv and jsonl: the "
              "column holding each memory field, e.g. content=text,occurred_at=ts,"
              "session_id=conv (a field not mapped is read from the column of its name).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid records and report the "
              "others (default: one invalid record imports nothing).")
@click.option("--all-users", is_flag=True, help="Keep each record's user (a memvault export "
              "made with --all-users, a mem0 export, a user_id column) instead of importing "
              "everything as --user.")
@click.option("--batch-size", type=click.IntRange(1, 1_000), default=BATCH, show_default=True,
              help="Memories written per transaction; each batch is kept if the import is cut "
              "short.")
@click.pass_context
def import_(ctx: click.Context, source: str, from_: str, mapping: str | None,
            skip_invalid: bool, all_users: bool, batch_size: int) -> None:
    """Import SOURCE; what is already present is skipped, so running an import again adds
    nothing and finishes one cut short.

    Everything is imported as the user this command acts for (--user) unless --all-users.
    Every record is checked as an add is, and invalid ones are reported by position
    (line, or conversation and message).
    """
    from memvault.interfaces.cli import main

    config = main._config(ctx)
    data: bytes | None = None
    if source == "-":
        with click.open_file(source, "rb") as stdin:
            data = stdin.read()
    elif from_ == "jsonl" and Path(source).is_dir():
        raise click.ClickException(f"{source} is a folder: give the JSONL file")
    if from_ == "jsonl" and not mapping and not all_users:
        head = data if data is not None else _head(Path(source))
        if _is_export(head):
            users = _scan_users(data.splitlines() if data is not None else _lines(source))
            if len(users) > 1:
                raise click.ClickException(
                    f"{source} holds the memories of {len(users)} users "
                    f"({', '.join(sorted(users)[:5])}{', ...' if len(users) > 5 else ''}): "
                    "import it with --all-users to keep each user's, or export one user at "
                    "a time")
    pause = _pause_hook(os.environ.get(PAUSE_ENV), batch_size)
    bar: list[ProgressBar[Any]] = []

    def progress(done: int, total: int) -> None:
        if not bar:
            bar.append(click.progressbar(length=total, label="importing", file=sys.stderr))
            bar[0].__enter__()
        bar[0].update(done - bar[0].pos)
        if pause is not None:
            pause(done)

    async def action() -> Any:
        async with Memvault(config) as mv:
            await mv.wait_until_ready(timeout=120)
            await main._refuse_resized_vectors(mv)
            try:
                report = await mv.import_from(
                    data if data is not None else source, format=from_, name="stdin",
                    all_users=all_users, mapping=mapping, skip_invalid=skip_invalid,
                    batch_size=batch_size, progress=progress,
                )
            finally:
                if bar:
                    bar[0].__exit__(None, None, None)
            # Vectors are computed behind the adds: store them before the process exits.
            await mv.wait_for_vectors()
            return report

    report = main._run(action)
    for problem in report.invalid:
        click.echo(f"skipped {problem.message}", err=True)  # the message names the record
    click.echo(f"imported {report.memories} memories and {report.profile_facts} profile facts"
               f" ({report.skipped} already present"
               + (f", {len(report.invalid)} invalid records skipped)" if report.invalid
                  else ")"))


def _pause_hook(spec: str | None, batch_size: int) -> Any:
    """The test hook of :data:`PAUSE_ENV`, as a function of the records done so far."""
    if not spec:
        return None
    after, _, flag = spec.partition(":")
    threshold = int(after) * batch_size
    fired = threading.Event()

    def pause(done: int) -> None:
        if done >= threshold and not fired.is_set():
            fired.set()
            Path(flag).write_text(str(done), encoding="utf-8")
            threading.Event().wait(_PAUSE_SECONDS)  # blocks the import until it is killed

    return pause


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.readline()


def _is_export(head: bytes) -> bool:
    first = next((line for line in head.splitlines() if line.strip()), b"")
    return b'"memvault-export"' in first and b'"header"' in first


def _lines(source: str) -> Iterator[bytes]:
    with open(source, "rb") as handle:
        yield from handle


def _scan_users(lines: Iterable[bytes]) -> set[str]:
    """The users of an export's readable lines (the import reports the unreadable ones)."""
    users = set()
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and isinstance(record.get("user_id"), str) \
                and record["user_id"].strip():
            users.add(record["user_id"])
    return users
