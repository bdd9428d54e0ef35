"""``memvault encrypt`` and ``memvault rekey``: encryption at rest for stores that exist.

``MEMVAULT_TEST_PAUSE_AT=<step>`` stops a conversion before that step (see
:mod:`memvault.stores.sqlite.convert`), printing ``paused at <step>`` to stderr: the crash tests
kill the process there.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from memvault.errors import MemvaultError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from memvault.config import Config

__all__ = ["register"]

T = TypeVar("T")


def _pause(step: str) -> None:
    if os.environ.get("MEMVAULT_TEST_PAUSE_AT") == step:
        click.echo(f"paused at {step}", err=True)
        sys.stderr.flush()
        threading.Event().wait()


def register(cli: click.Group, config_of: Callable[[click.Context], Config],
             run: Callable[[Callable[[], Awaitable[Any]]], Any]) -> None:
    """Add the commands to ``cli``; ``config_of`` and ``run`` are the CLI's own helpers."""

    def files(ctx: click.Context, mode: Literal["encrypt", "rekey"]) -> None:
        from memvault.core import encryption

        try:
            for line in encryption.reencrypt_files(config_of(ctx), mode, _pause):
                click.echo(line)
        except (MemvaultError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    @cli.command()
    @click.pass_context
    def encrypt(ctx: click.Context) -> None:
        """Encrypt the SQLite store under the configured key, in place.

        Stop the servers using the file first. The file is copied, verified and swapped in
        atomically: interrupted at any point, it is whole, under no key or the new one."""
        files(ctx, "encrypt")

    @cli.command()
    @click.option("--fields", is_flag=True, help="Re-encrypt the server stores' encrypted "
                  "fields (PostgreSQL profile values, graph content) instead of SQLite files.")
    @click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
                  help="Values re-encrypted per transaction (with --fields).")
    @click.pass_context
    def rekey(ctx: click.Context, fields: bool, batch: int) -> None:
        """Re-encrypt under the current key what an old key encrypted.

        Give the new key as the key and the old one in MEMVAULT_ENCRYPTION_OLD_KEY_FILES.
        SQLite: the file is rewritten crash-safe, as `memvault encrypt` does (stop the servers
        first). --fields: values are re-encrypted in batches while servers run."""
        from memvault.core import encryption

        if not fields:
            files(ctx, "rekey")
            return
        config = config_of(ctx)
        bar: list[ProgressBar[Any]] = []

        def start(total: int) -> None:
            bar.append(click.progressbar(length=total, label="re-encrypting",
                                         file=sys.stderr))
            bar[0].__enter__()

        async def action() -> int:
            try:
                return await encryption.rekey_fields(
                    config, batch=batch, start=start,
                    progress=lambda n: bar[0].update(n) if bar else None)
            finally:
                if bar:
                    bar[0].__exit__(None, None, None)

        click.echo(f"re-encrypted {run(action)} values under key "
                   f"{encryption.keys_of(config).current.kid}")
