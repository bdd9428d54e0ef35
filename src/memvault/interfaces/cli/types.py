"""``memvault types``: the configured memory types, with the JSON Schema of their data."""

from __future__ import annotations

import json

import click

from memvault.core.typed import TypeRegistry

__all__ = ["types_"]


@click.command(name="types")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (names, descriptions and "
              "schemas).")
@click.pass_context
def types_(ctx: click.Context, as_json: bool) -> None:
    """List the memory types configured under [types] (or MEMVAULT_TYPES)."""
    from memvault.interfaces.cli import main

    described = TypeRegistry(main._config(ctx).types).describe()
    if as_json:
        click.echo(json.dumps({"types": described}, indent=2, ensure_ascii=False))
        return
    if not described:
        click.echo("no memory types configured (declare them under [types] in the "
                   "configuration file, or in MEMVAULT_TYPES)")
    for entry in described:
        fields = ", ".join(entry["schema"].get("properties", {}))
        click.echo(f"{entry['name']}: {entry['description'] or '(no description)'}"
                   + (f"  [{fields}]" if fields else ""))
