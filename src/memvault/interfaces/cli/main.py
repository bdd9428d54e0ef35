"""``memvault``: serve the MCP server and manage memories from the shell.

Configuration comes from flags, then ``MEMVAULT_*`` environment variables, then a TOML file
(``--config``), then defaults; it is read here, once, and passed down.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args

import anyio
import click

from memvault.config import Config, EmbedderKind
from memvault.core.timeutil import shown
from memvault.errors import MemvaultError
from memvault.interfaces import schemas
from memvault.interfaces.cli import crypto
from memvault.interfaces.cli.oauth import oauth_options, oauth_overrides

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from memvault.core.memvault import Memvault
    from memvault.models import DoctorReport, Memory

__all__ = ["cli", "main"]

T = TypeVar("T")

#: The commands defined in other modules, imported when named (``memvault serve`` then
#: loads neither the core nor the HTTP client these need).
_ELSEWHERE = {
    "update": "correct:update",
    "forget": "correct:forget",
    "keys": "keys:keys",
    "audit": "keys:audit",
    "export": "transfer:export",
    "import": "transfer:import_",
    "types": "types:types_",
    "ui": "ui:ui",
}


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("memvault").setLevel(getattr(logging, level.upper(), logging.INFO))


def _config(ctx: click.Context, extra: dict[str, Any] | None = None) -> Config:
    options: dict[str, Any] = ctx.find_root().obj
    config_file = options.pop("config_file", None)
    overrides = {
        "database": options.get("database"),
        "episodic_url": options.get("episodic"),
        "profile_url": options.get("profile_url"),
        "working_url": options.get("working"),
        "user_id": options.get("user"),
        "agent_id": options.get("agent"),
        "embedder.kind": options.get("embedder"),
        "embedder.model": options.get("embedder_model"),
        "encryption.key_file": options.get("encryption_key_file"),
        "encryption.keyring": options.get("encryption_keyring"),
        **(extra or {}),
    }
    try:
        return Config.load(overrides, env=os.environ, config_file=config_file)
    except MemvaultError as exc:
        raise click.ClickException(str(exc)) from exc


def _open(config: Config, *, embedder: Literal["config"] | None = "config",
          check_embedder: bool = True) -> Memvault:
    """A :class:`Memvault` on ``config``, not yet opened (the core is imported here, when a
    command first needs it)."""
    from memvault.core.memvault import Memvault

    return Memvault(config, embedder=embedder, check_embedder=check_embedder)


def _run(action: Callable[[], Awaitable[T]]) -> T:
    try:
        return anyio.run(action)
    except MemvaultError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")
        raise click.ClickException(message) from exc


def _print_memory(memory: Memory, score: float | None = None) -> None:
    when = shown(memory.occurred_at)
    head = f"{memory.id}  {when}" + (f"  session={memory.session_id}" if memory.session_id else "")
    if score is not None:
        head += f"  score={score:.4f}"
    if memory.derived is not None:  # memvault's own words, never the user's
        head += f"  derived={memory.derived.kind}"
    click.echo(click.style(head, dim=True))
    click.echo(f"  {memory.content}")


class _UsageError(click.UsageError):
    """A usage error shown as one line, ``Error: …`` (the message names the option), as
    every other error is: without the usage text and the pointer to ``--help`` above it."""

    def show(self, file: Any = None) -> None:
        click.ClickException.show(self, file)


@contextlib.contextmanager
def _usage_errors_on_one_line() -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:
        if type(exc).show is not click.UsageError.show:
            raise  # one shown its own way, as the help when no command is given
        raise _UsageError(exc.format_message(), exc.ctx) from exc


class _Group(click.Group):
    """Takes the global options after the command too (``memvault serve --database x``);
    an option the command itself has (``add --profile``, ``list --working``) stays the
    command's. Usage errors, its own and its commands', are one line on stderr (exit 2)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _usage_errors_on_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_errors_on_one_line():
            return super().invoke(ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _hoist_global_options(self, ctx, args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_ELSEWHERE})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _ELSEWHERE and cmd_name not in self.commands:
            module, _, name = _ELSEWHERE[cmd_name].partition(":")
            found = getattr(importlib.import_module(f"{__package__}.{module}"), name)
            self.add_command(cast(click.Command, found), cmd_name)
        return super().get_command(ctx, cmd_name)


def _option_names(params: list[click.Parameter]) -> dict[str, bool]:
    """Each option's names, mapped to whether it takes a value."""
    names: dict[str, bool] = {}
    for param in params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                names[name] = not param.is_flag and not param.count
    return names


def _hoist_global_options(group: click.Group, ctx: click.Context,
                          args: list[str]) -> list[str]:
    """``args`` with the group's options found after the command moved before it."""
    own = _option_names(group.get_params(ctx))
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "--":
        name = args[index].partition("=")[0]
        index += 2 if own.get(name) and "=" not in args[index] else 1
    command = group.get_command(ctx, args[index]) if index < len(args) else None
    if command is None:
        return args
    theirs = _option_names(command.get_params(ctx))
    hoisted: list[str] = []
    kept: list[str] = []
    rest = iter(args[index + 1:])
    for arg in rest:
        if arg == "--":
            kept += [arg, *rest]
            break
        name = arg.partition("=")[0]
        takes_value = "=" not in arg
        if name not in theirs and name not in own and len(name) > 2 and name[1] != "-":
            name, takes_value = name[:2], False  # a short option with its value: -ubob
        if name in theirs:
            kept += [arg, *_value(rest, theirs[name] and takes_value)]
        elif name in own and name not in ("--help", "-h", "--version"):
            hoisted += [arg, *_value(rest, own[name] and takes_value)]
        else:
            kept.append(arg)
    return [*args[:index], *hoisted, args[index], *kept]


def _value(rest: Iterator[str], wanted: bool) -> list[str]:
    """The next argument, when the option before it takes one and there is one."""
    return [value for value in [next(rest, None)] if value is not None] if wanted else []


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-d", "--database", help="SQLite file or store URL for all three memory "
              "types. [default: memvault.db in your user data directory, e.g. "
              "~/.local/share/memvault; env MEMVAULT_DB]")
@click.option("--episodic", help="Episodic store URL (sqlite:///…, falkordb://…, neo4j://…). "
              "[env MEMVAULT_EPISODIC_URL]")
@click.option("--profile", "profile_url", help="Profile store URL (sqlite:///…, "
              "postgresql://…). [env MEMVAULT_PROFILE_URL]")
@click.option("--working", help="Working store URL (sqlite:///…, redis://…). "
              "[env MEMVAULT_WORKING_URL]")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML configuration file. [env MEMVAULT_CONFIG]")
@click.option("-u", "--user", help="User whose memories to use. [default: your OS user name; "
              "env MEMVAULT_USER_ID]")
@click.option("--agent", help="Agent id recorded on new memories. [env MEMVAULT_AGENT_ID]")
@click.option("--embedder", type=click.Choice(get_args(EmbedderKind)),
              help="Embedder for semantic search. [default: auto; env MEMVAULT_EMBEDDER]")
@click.option("--embedder-model", help="Model name or path for the embedder. "
              "[env MEMVAULT_EMBEDDER_MODEL]")
@click.option("--encryption-key-file", type=click.Path(dir_okay=False), help="File holding the "
              "encryption key (docs/deploy.md). [env MEMVAULT_ENCRYPTION_KEY_FILE]")
@click.option("--encryption-keyring", metavar="SERVICE/NAME", help="OS keyring entry holding "
              "the encryption key. [env MEMVAULT_ENCRYPTION_KEYRING]")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="memvault")
@click.pass_context
def cli(ctx: click.Context, /, log_level: str, **options: Any) -> None:
    """memvault: long-term memory for AI agents, over MCP.

    Start with `memvault serve` (stdio, for Claude Desktop or Cursor), or
    `memvault serve --transport http` for a shared server. The options below
    may also follow the command (`memvault serve --database team.db`).
    """
    ctx.obj = dict(options, log_level=log_level)


@cli.command()
@click.option("--transport", type=click.Choice(["stdio", "sse", "http"]), default="stdio",
              show_default=True, help="stdio for a desktop client; http (streamable HTTP) or "
              "sse for a network server.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (http/sse). Anything but loopback needs --token or "
              "--keys.")
@click.option("--port", default=8765, show_default=True, type=int,
              help="Port to listen on (http/sse); 0 picks a free one.")
@click.option("--token", envvar="MEMVAULT_TOKEN", help="Bearer token every HTTP request must "
              "carry; at least 16 characters off loopback (`memvault token` makes one). "
              "[env MEMVAULT_TOKEN]")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="HOST",
              help="Host header to admit besides loopback (repeatable; without a port, any "
              "port). [env MEMVAULT_ALLOWED_HOSTS, comma-separated]")
@click.option("--allowed-origin", "allowed_origins", multiple=True, metavar="ORIGIN",
              help="Origin header to admit besides http://localhost (repeatable). "
              "[env MEMVAULT_ALLOWED_ORIGINS, comma-separated]")
@click.option("--keys", "keys", is_flag=True, envvar="MEMVAULT_KEYS", help="Accept the "
              "per-user keys of `memvault keys create` (http/sse). [env MEMVAULT_KEYS]")
@oauth_options
@click.pass_context
def serve(ctx: click.Context, /, transport: str, host: str, port: int, token: str | None,
          allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...], keys: bool,
          **oauth: str | None) -> None:
    """Run the MCP server (logs go to stderr)."""
    from memvault.interfaces.runtime import LogLevel, ServeOptions, Transport
    from memvault.interfaces.serve import serve as run_server

    level = ctx.find_root().obj["log_level"]
    level = "INFO" if level.upper() == "WARNING" else level
    _setup_logging(level)
    config = _config(ctx, oauth_overrides(oauth))
    options = ServeOptions(
        transport=cast(Transport, transport), host=host, port=port, token=token, keys=keys,
        log_level=cast(LogLevel, level.upper()),
        allowed_hosts=allowed_hosts or _env_list("MEMVAULT_ALLOWED_HOSTS"),
        allowed_origins=allowed_origins or _env_list("MEMVAULT_ALLOWED_ORIGINS"),
    )
    with contextlib.suppress(KeyboardInterrupt):
        _run(lambda: run_server(config, options))


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


@cli.command()
def token() -> None:
    """Print a new random bearer token for `serve --token` (or MEMVAULT_TOKEN)."""
    click.echo(secrets.token_urlsafe(32))


@cli.command()
@click.argument("content", required=False)
@click.option("-s", "--session", help=schemas.ADD_SESSION.cli)
@click.option("--metadata", help=schemas.METADATA.cli)
@click.option("--occurred-at", help=schemas.OCCURRED_AT.cli)
@click.option("--profile", "profile", help=schemas.PROFILE.cli)
@click.option("--idempotency-key", help=schemas.IDEMPOTENCY_KEY.cli)
@click.option("--type", "kind", help=schemas.TYPE.cli)
@click.option("--data", help=schemas.DATA.cli)
@click.pass_context
def add(ctx: click.Context, content: str | None, session: str | None, metadata: str | None,
        occurred_at: str | None, profile: str | None, idempotency_key: str | None,
        kind: str | None, data: str | None) -> None:
    """Store CONTENT as a memory (use - to read it from stdin) and print its id; a typed
    memory (--type, --data) may leave CONTENT out."""
    if content == "-":
        content = sys.stdin.read()
    config = _config(ctx)
    meta = _json_arg(metadata, "--metadata")
    facts = _json_arg(profile, "--profile")

    async def action() -> Memory:
        # No embedder here: loading a model for one add would take seconds; a running
        # server embeds memories that lack a vector.
        async with _open(config, embedder=None) as mv:
            await _refuse_foreign_vectors(mv, config)
            return await mv.add(content, session_id=session, metadata=meta,
                                occurred_at=occurred_at, profile=facts,
                                idempotency_key=idempotency_key, type=kind,
                                data=_json_arg(data, "--data"))

    click.echo(_run(action).id)


async def _refuse_foreign_vectors(mv: Memvault, config: Config) -> None:
    """Refuse, as a server would on open, a store whose vectors come from another embedder
    than the configured one (:class:`EmbedderMismatch`; never with ``auto``, which takes the
    store's own); the model is not loaded."""
    from memvault.core.embedding import EmbeddingService
    from memvault.embedders import create_embedder

    info = await mv.episodic.embedding_info()
    configured, reason = create_embedder(config.embedder, info.model if info else None)
    if configured is not None:
        await EmbeddingService(configured, mv.episodic, reason).check()


async def _refuse_resized_vectors(mv: Memvault) -> None:
    """Refuse, as a server does once its embedder has loaded, an embedder whose vectors are
    of another size than the store's (:class:`EmbedderMismatch`)."""
    from memvault.interfaces.runtime import vector_size_mismatch

    mismatch = await vector_size_mismatch(mv)
    if mismatch is not None:
        raise mismatch


def _json_arg(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=name) from None
    except RecursionError:  # far past the depth the core allows, which it names
        from memvault.core.validate import nested_too_deep

        raise click.BadParameter(nested_too_deep(), param_hint=name) from None


@cli.command()
@click.argument("query")
@click.option("-n", "--limit", default=10, show_default=True)
@click.option("-s", "--session", help=schemas.SEARCH_SESSION.cli)
@click.option("--since", help=schemas.SINCE.cli)
@click.option("--until", help=schemas.UNTIL.cli)
@click.option("--context", default=0, show_default=True, help=schemas.CONTEXT.cli)
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.0, help=schemas.MIN_SCORE.cli)
@click.option("--type", "kind", help=schemas.TYPE_FILTER.cli)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, limit: int, session: str | None, since: str | None,
           until: str | None, context: int, min_score: float, kind: str | None,
           as_json: bool) -> None:
    """Search memories for QUERY (waits for the embedder when one is configured)."""
    config = _config(ctx)

    async def action() -> Any:
        async with _open(config) as mv:
            await mv.wait_until_ready(timeout=120)
            await _refuse_resized_vectors(mv)
            return await mv.search(query, session_id=session, limit=limit, since=since,
                                   until=until, context=context, min_score=min_score,
                                   type=kind)

    result = _run(action)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    if not result.hits:
        click.echo("no matches")
    for hit in result.hits:
        _print_memory(hit.memory, hit.score)
        for turn in hit.context:
            click.echo(click.style(f"    | {turn.content}", dim=True))


@cli.command(name="list")
@click.option("-n", "--limit", default=20, show_default=True)
@click.option("-s", "--session", help=schemas.LIST_SESSION.cli)
@click.option("--cursor", help=schemas.CURSOR.cli)
@click.option("--working", is_flag=True, help=schemas.MEMORY_TYPE.cli)
@click.option("--type", "kind", help=schemas.TYPE_FILTER.cli)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, limit: int, session: str | None, cursor: str | None,
          working: bool, kind: str | None, as_json: bool) -> None:
    """List memories, newest first."""
    config = _config(ctx)

    async def action() -> Any:
        async with _open(config, embedder=None) as mv:
            return await mv.list(session_id=session, limit=limit, cursor=cursor,
                                 memory_type="working" if working else "episodic", type=kind)

    page = _run(action)
    if as_json:
        click.echo(page.model_dump_json(indent=2))
        return
    if not page.items:
        click.echo("no memories")
    for memory in page.items:
        _print_memory(memory)
    if page.next_cursor:
        click.echo(click.style(f"more: --cursor {page.next_cursor}", dim=True))


@cli.command()
@click.option("--history", is_flag=True, help=schemas.INCLUDE_HISTORY.cli)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def profile(ctx: click.Context, history: bool, as_json: bool) -> None:
    """Show the user's profile facts."""
    config = _config(ctx)

    async def action() -> Any:
        async with _open(config, embedder=None) as mv:
            return await mv.get_profile(include_history=history)

    result = _run(action)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    if not result.facts and not result.history:
        click.echo("no profile facts")
    for fact in result.facts:
        click.echo(f"{fact.key} = {json.dumps(fact.value)}  [{fact.category}]")
    for fact in result.history:
        click.echo(click.style(
            f"{fact.key} = {json.dumps(fact.value)}  (until {shown(fact.valid_to)})",
            dim=True))


@cli.command(name="delete-all")
@click.option("-s", "--session", help=schemas.DELETE_SESSION.cli)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_all(ctx: click.Context, session: str | None, yes: bool) -> None:
    """Delete the user's memories (and profile, unless --session narrows it)."""
    config = _config(ctx)
    what = f"session {session!r} of user {config.user_id!r}" if session else \
        f"ALL memories and the profile of user {config.user_id!r}"
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("refusing without --yes when not on a terminal")
        click.confirm(f"Permanently delete {what}?", abort=True)

    async def action() -> Any:
        async with _open(config, embedder=None) as mv:
            return await mv.delete_all(session_id=session)

    report = _run(action)
    click.echo(f"deleted {report.memories} memories, {report.working} working turns, "
               f"{report.profile_facts} profile facts")


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reembed(ctx: click.Context, yes: bool) -> None:
    """Drop every vector and embed all memories again with the configured embedder."""
    config = _config(ctx)
    if not yes and sys.stdin.isatty():
        click.confirm("Re-embed every memory (this can take a while)?", abort=True)

    async def action() -> int:
        async with _open(config, check_embedder=False) as mv:
            total = await mv.count(all_users=True)
            bar: ProgressBar[Any] = click.progressbar(
                length=total, label="embedding", file=sys.stderr)
            with bar:
                return await mv.reembed(progress=bar.update)

    click.echo(f"embedded {_run(action)} memories")


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Show the stores, counts and embedder, and what is missing; exits 1 when a store is
    down or the embedder cannot be used. Creates nothing: a store that does not exist yet is
    shown as such (``[none]``), and created on first use."""
    from memvault.interfaces.cli.extraction import echo_extraction

    config = _config(ctx)
    click.echo(f"user:       {config.user_id}" + (f" (agent {config.agent_id})"
                                                  if config.agent_id else ""))

    async def action() -> tuple[DoctorReport, str | None]:
        # Not opened: the report opens each store on its own, so one down hides no other.
        mv = _open(config)
        report = await mv.doctor()
        return report, await _embedder_problem(mv, report)

    report, embedder_problem = _run(action)
    click.echo(report.embedder_reason)
    click.echo(f"local extra: {'yes' if report.local_extra else 'no'} "
               f"({report.local_extra_detail})")
    click.echo(f"e5:          {'yes' if report.e5 else 'no'} ({report.e5_detail})")
    for store in report.stores:
        status = store.status
        if status is None:
            click.echo(f"[DOWN] {store.role:<9} {store.error}")
            continue
        mark = "none" if store.absent else "ok " if status.ok else "DOWN"
        click.echo(f"[{mark}] {status.role:<9} {status.backend}  {status.location}"
                   f"  {status.detail}")
        if store.role == "episodic" and report.vectors is not None:
            info, counts = report.vectors.embedding, report.vectors
            stored = f"{info.model} ({info.dimensions} dimensions)" if info else "none yet"
            click.echo(f"vectors:    {counts.vectors} of {counts.memories} memories; embedder "
                       f"on record: {stored}")
            if counts.memories and counts.vectors < counts.memories:
                click.echo("            missing vectors are added by a running server, or "
                           "now with `memvault reembed`")
    echo_extraction(report.extraction)
    if embedder_problem is not None:
        click.echo(f"[FAIL] embedder  {embedder_problem}")
    if not report.ok or embedder_problem is not None:
        raise click.exceptions.Exit(1)


async def _embedder_problem(mv: Memvault, report: DoctorReport) -> str | None:
    """Why the configured embedder cannot be used (it does not load, or the store's vectors
    come from another), or ``None``. Loading a local model takes seconds."""
    embedder = mv.embedding.embedder
    if embedder is None:
        return None
    info = report.vectors.embedding if report.vectors is not None else None
    if info is not None and info.model != embedder.name:
        return (f"the store's vectors come from {info.model}, not {embedder.name}: run "
                f"`memvault reembed` or configure {info.model}")
    try:
        await embedder.load()
    except (MemvaultError, OSError, RuntimeError, ValueError) as exc:
        return f"{embedder.name} cannot load: {exc}"
    finally:
        await embedder.aclose()
    return None


crypto.register(cli, _config, _run)


def main() -> None:
    cli(prog_name="memvault")
