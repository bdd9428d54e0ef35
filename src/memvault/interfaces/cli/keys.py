"""``memvault keys`` (create, list, revoke per-user API keys) and ``memvault audit`` (who
wrote and deleted what). Registered on the root group by :mod:`.main`.

The key's user and agent are the global ``--user`` and ``--agent`` (they may follow the
command, as everywhere: ``memvault keys create --user alice --agent crm-bot``); ``keys
create`` needs ``--user`` given explicitly, so no key is bound to a default by mistake.
"""

from __future__ import annotations

import json
from typing import Any

import click

from memvault.config import Config
from memvault.core.audit import open_audit
from memvault.core.keys import SCOPES, open_keys
from memvault.models import ApiKey, AuditEntry

__all__ = ["audit", "keys"]


def _config(ctx: click.Context) -> Config:
    from memvault.interfaces.cli.main import _config as load

    return load(ctx)


def _run(action: Any) -> Any:
    from memvault.interfaces.cli.main import _run as run

    return run(action)


def _flag(ctx: click.Context, name: str) -> str | None:
    value = ctx.find_root().obj.get(name)
    return value if isinstance(value, str) else None


def _when(moment: Any) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_line(key: ApiKey) -> str:
    state = "revoked" if key.revoked_at else "active"
    return (f"{key.id}  user={key.user_id}  agent={key.agent_id or '-'}  scope={key.scope}  "
            f"{state}  name={key.name or '-'}  created={_when(key.created_at)}  "
            f"last_used={_when(key.last_used_at)}  expires={_when(key.expires_at)}"
            + (f"  revoked={_when(key.revoked_at)}" if key.revoked_at else ""))


@click.group()
def keys() -> None:
    """Per-user API keys for `memvault serve --keys` (kept in the profile store, as a
    hash: a key is shown once, when made)."""


@keys.command()
@click.option("--scope", type=click.Choice(SCOPES), default="write", show_default=True,
              help="read: search and read only; write: also add and delete the user's "
              "memories; admin: act for any user (X-User-ID).")
@click.option("--expires", metavar="WHEN", help="When the key stops working: a duration "
              "(30d, 12h, 2w) or an ISO 8601 date. [default: never]")
@click.option("--name", help="A label to recognise the key by in `keys list`.")
@click.pass_context
def create(ctx: click.Context, scope: str, expires: str | None, name: str | None) -> None:
    """Make a key for --user (and --agent, if given) and print it, once, on stdout."""
    user = _flag(ctx, "user")
    if user is None:
        raise click.UsageError("keys create needs --user USER: the user the key acts as")
    config = _config(ctx)

    async def action() -> tuple[ApiKey, str]:
        async with open_keys(config) as service:
            return await service.create(user_id=user, agent_id=_flag(ctx, "agent"),
                                        scope=scope, expires=expires, name=name)

    key, text = _run(action)
    click.echo(_key_line(key), err=True)
    click.echo("store it now: it cannot be shown again", err=True)
    click.echo(text)


@keys.command(name="list")
@click.pass_context
def list_keys(ctx: click.Context) -> None:
    """List the keys (of --user, when given): ids, users, scopes, times; never the keys."""
    config = _config(ctx)
    user = _flag(ctx, "user")

    async def action() -> list[ApiKey]:
        async with open_keys(config) as service:
            return await service.list(user)

    for key in _run(action):
        click.echo(_key_line(key))


@keys.command()
@click.argument("key_id")
@click.pass_context
def revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke the key KEY_ID for good: every server refuses it from the next request on."""
    config = _config(ctx)

    async def action() -> ApiKey:
        async with open_keys(config) as service:
            return await service.revoke(key_id)

    click.echo(_key_line(_run(action)))


def _entry_line(entry: AuditEntry) -> str:
    what = [*entry.memory_ids[:5]]
    if len(entry.memory_ids) > 5:
        what.append(f"(+{len(entry.memory_ids) - 5} more)")
    what += [f"key:{k}" for k in entry.keys]
    what += [f"{k}={json.dumps(v)}" for k, v in entry.detail.items()]
    return (f"{_when(entry.at)}  {entry.subject}  agent={entry.agent_id or '-'}  "
            f"{entry.action}  {' '.join(what)}").rstrip()


@click.command()
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="How many entries, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def audit(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Who wrote and deleted what for --user (default: the configured user), newest first:
    the key id or token subject (`local` for stdio, the CLI and the SDK), the agent, the
    action and the memory ids or profile keys it touched."""
    config = _config(ctx)

    async def action() -> list[AuditEntry]:
        async with open_audit(config) as log:
            return await log.trail(config.user_id, limit=limit)

    for entry in _run(action):
        click.echo(entry.model_dump_json() if as_json else _entry_line(entry))
