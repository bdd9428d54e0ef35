"""``memvault update`` and ``memvault forget``: correct a memory, forget a profile fact."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from memvault.core.memvault import Memvault
from memvault.interfaces import schemas

__all__ = ["forget", "update"]


@click.command()
@click.argument("memory_id")
@click.option("--content", help=schemas.UPDATE_CONTENT.cli)
@click.option("--metadata", help=schemas.UPDATE_METADATA.cli)
@click.option("--occurred-at", help=schemas.UPDATE_OCCURRED_AT.cli)
@click.option("--data", help=schemas.UPDATE_DATA.cli)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def update(ctx: click.Context, memory_id: str, content: str | None, metadata: str | None,
           occurred_at: str | None, data: str | None, as_json: bool) -> None:
    """Correct the memory MEMORY_ID (use --content - to read the text from stdin); the
    replaced version is kept in its history."""
    from memvault.interfaces.cli import main

    if content == "-":
        content = sys.stdin.read()
    config = main._config(ctx)
    meta = main._json_arg(metadata, "--metadata")
    fields = main._json_arg(data, "--data")

    async def action() -> dict[str, Any]:
        # As `add`: no model here; a running server embeds the new content.
        async with Memvault(config, embedder=None) as mv:
            await main._refuse_foreign_vectors(mv, config)
            memory = await mv.update(memory_id, content=content, metadata=meta,
                                     occurred_at=occurred_at, data=fields)
            history = await mv.history(memory_id)
            return {**memory.model_dump(mode="json"),
                    "history": [v.model_dump(mode="json") for v in history]}

    record = main._run(action)
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{record['id']}  updated ({len(record['history'])} earlier version(s))")


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def forget(ctx: click.Context, key: str, as_json: bool) -> None:
    """Forget the profile fact KEY: its value moves to the history."""
    from memvault.interfaces.cli import main

    config = main._config(ctx)

    async def action() -> Any:
        async with Memvault(config, embedder=None) as mv:
            return await mv.forget_profile(key)

    fact = main._run(action)
    if fact is None:
        raise click.ClickException(f"profile key {key!r} has no current value")
    if as_json:
        click.echo(json.dumps({"forgotten": fact.model_dump(mode="json")}, indent=2,
                              ensure_ascii=False))
    else:
        click.echo(f"forgot {fact.key} = {json.dumps(fact.value)}")
