"""One asyncpg pool per store: URL parsing, numbered migrations, transactions, and the
mapping of driver errors to memvault's.

The pool is created by :meth:`PostgresDatabase.open` and reconnects by itself: when the
server goes away, calls raise :class:`StoreUnavailable`; once it is back, the next call gets a
fresh connection (a connection found dead at the start of a call is replaced and the call
tried once more, so a restart of the server costs no failed call once it is up again).

Every table lives in one PostgreSQL schema, named by the URL's ``schema`` parameter (default
``memvault``), created when missing and put alone on each connection's ``search_path``.
Migrations are numbered per component and recorded in ``schema_migrations``; they run in one
transaction under an advisory lock, so replicas starting together apply each step once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped,unused-ignore]

from memvault.errors import ConfigError, InvalidInput, MemvaultError, StoreUnavailable
from memvault.stores.migrations import Migration, pending

__all__ = [
    "DEFAULT_SCHEMA",
    "Connection",
    "PostgresDatabase",
    "PostgresUrl",
    "Row",
    "lock_key",
    "parse_url",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SCHEMA = "memvault"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_POOL_MIN_SIZE = 0  # connect on demand: no background reconnect loop while the server is down
_POOL_MAX_SIZE = 10
_CONNECT_TIMEOUT_SECONDS = 10.0
_COMMAND_TIMEOUT_SECONDS = 60.0
_CLOSE_TIMEOUT_SECONDS = 10.0

Row = Mapping[str, Any]


class Connection(Protocol):
    """The part of ``asyncpg.Connection`` the stores use (asyncpg ships no type hints)."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def fetch(self, query: str, *args: object) -> list[Row]: ...

    async def fetchrow(self, query: str, *args: object) -> Row | None: ...

    async def fetchval(self, query: str, *args: object) -> Any: ...


@dataclass(frozen=True)
class PostgresUrl:
    """A parsed store URL: the DSN for asyncpg (without ``schema``), the schema, the server's
    ``host:port`` for messages, and a password-free form of the URL for status reports."""

    dsn: str
    schema: str
    endpoint: str
    location: str
    application_name_given: bool


def parse_url(url: str) -> PostgresUrl:
    """``postgresql://user:pw@host:port/db?schema=name&sslmode=...`` → :class:`PostgresUrl`."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"not a PostgreSQL URL: {_redact(url)!r} (expected postgresql://user@host:5432/db)"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for name, value in query if name == "schema"]
    rest = [(name, value) for name, value in query if name != "schema"]
    if len(schemas) > 1:
        raise ConfigError("the PostgreSQL URL names the schema parameter more than once")
    schema = schemas[0] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise ConfigError(
            f"invalid PostgreSQL schema {schema!r}: use 1-63 lower-case letters, digits and '_',"
            " starting with a letter or '_' and not with 'pg_'"
        )
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
    hosts = unquote(parts.netloc.rpartition("@")[2])
    user = unquote(parts.netloc.rpartition("@")[0].partition(":")[0])
    params = dict(rest)
    if hosts and ("," in hosts or re.search(r":\d+$", hosts)):
        endpoint = hosts
    else:
        host = hosts or params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        endpoint = f"{host}:{port}"
    location = (
        f"postgresql://{user + '@' if user else ''}{hosts}{parts.path}?schema={schema}"
    )
    return PostgresUrl(dsn=dsn, schema=schema, endpoint=endpoint, location=location,
                       application_name_given="application_name" in params)


def _redact(url: str) -> str:
    """The URL with any password replaced, for messages."""
    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``parts``."""
    text = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


# Errors that mean the server cannot be reached, or a pooled connection is no longer usable
# (closed by a server restart, or left in a broken protocol state by an unsolicited FATAL),
# rather than a fault of the query.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no route, name resolution
    asyncpg.CannotConnectNowError,  # starting up or shutting down
)
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
# Errors that retrying will not fix: wrong credentials or a database that does not exist.
_CONFIG_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.ClientConfigurationError,
)
# asyncpg's client-side "invalid input for query argument" (an InterfaceError).
_ARGUMENT_ERROR: type[BaseException] = asyncpg.exceptions._base.DataError


def _is_connection_lost(exc: BaseException) -> bool:
    # TimeoutError is an OSError, but a query that timed out is not retried.
    if isinstance(exc, (TimeoutError, _ARGUMENT_ERROR, *_CONFIG_ERRORS)):
        return False
    return isinstance(exc, (*_UNREACHABLE, *_CONNECTION_LOST))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_MIGRATIONS_TABLE = """
CREATE TABLE schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


class PostgresDatabase:
    """An asyncpg pool on one schema of one database, for the store of ``role``.

    All access goes through :meth:`read` and :meth:`write` (one transaction), which map
    driver errors: an unreachable server or a lost connection to :class:`StoreUnavailable`
    naming ``host:port``, a value PostgreSQL rejects to :class:`InvalidInput`, refused
    credentials or a missing database to :class:`ConfigError`.
    """

    def __init__(self, url: str, role: str) -> None:
        self.url = parse_url(url)
        self.role = role
        self._pool: Any = None

    @property
    def schema(self) -> str:
        return self.url.schema

    async def open(self, component: str, migrations: Sequence[Migration]) -> None:
        if self._pool is None:
            self._pool = await self._create_pool()
        try:
            await self.write(lambda conn: self._migrate(conn, component, migrations))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_SECONDS)
        except Exception as exc:  # the connections are dropped either way
            log.debug("closing the PostgreSQL pool: %s", _describe(exc))
            pool.terminate()
        except BaseException:
            pool.terminate()
            raise

    async def read(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        return await self._run(fn, transaction=False)

    async def write(self, fn: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``fn`` in one transaction; it commits when ``fn`` returns."""
        return await self._run(fn, transaction=True)

    async def lock(self, conn: Connection, keys: Iterable[tuple[str, ...]]) -> None:
        """Take transaction-scoped advisory locks on ``keys`` (within this schema), in one
        global order so that two writers never wait on each other in a cycle."""
        ordered = sorted({lock_key(self.schema, *key) for key in keys})
        if ordered:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k)", ordered
            )

    async def _create_pool(self) -> Any:
        settings = {"search_path": f'"{self.schema}"'}
        if not self.url.application_name_given:
            settings["application_name"] = "memvault"
        try:
            return await asyncpg.create_pool(
                self.url.dsn,
                min_size=_POOL_MIN_SIZE,
                max_size=_POOL_MAX_SIZE,
                timeout=_CONNECT_TIMEOUT_SECONDS,
                command_timeout=_COMMAND_TIMEOUT_SECONDS,
                server_settings=settings,
            )
        except Exception as exc:
            raise self._translate(exc, connecting=True) from exc

    async def _run(self, fn: Callable[[Connection], Awaitable[T]], *, transaction: bool) -> T:
        pool = self._pool
        if pool is None:
            raise StoreUnavailable(self.role, f"{self.url.location}: the store is not open")
        for attempt in (1, 2):
            acquired = committing = False
            try:
                async with pool.acquire() as conn:
                    acquired = True
                    if not transaction:
                        return await fn(conn)
                    async with conn.transaction():
                        result = await fn(conn)
                        committing = True
                    return result
            except MemvaultError:
                raise
            except Exception as exc:
                # A pooled connection that died (the server restarted) is replaced and the
                # call tried once more, unless the commit itself may have gone through.
                if attempt == 1 and acquired and not committing and _is_connection_lost(exc):
                    log.info("PostgreSQL connection lost (%s); reconnecting", _describe(exc))
                    await pool.expire_connections()
                    continue
                raise self._translate(exc, connecting=not acquired) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, exc: BaseException, *, connecting: bool) -> MemvaultError:
        where = f"PostgreSQL at {self.url.endpoint}"
        if isinstance(exc, _CONFIG_ERRORS):
            return ConfigError(f"{where} refused the {self.role} store: {_describe(exc)}")
        if isinstance(exc, TimeoutError):
            if connecting:
                return StoreUnavailable(self.role, f"cannot reach {where}: no answer within"
                                        f" {_CONNECT_TIMEOUT_SECONDS:.0f} s")
            return StoreUnavailable(self.role, f"{where} did not answer within"
                                    f" {_COMMAND_TIMEOUT_SECONDS:.0f} s")
        if isinstance(exc, _UNREACHABLE):
            return StoreUnavailable(self.role, f"cannot reach {where}: {_describe(exc)}")
        if _is_connection_lost(exc):
            return StoreUnavailable(self.role, f"lost the connection to {where}: {_describe(exc)}")
        if isinstance(exc, (asyncpg.DataError, _ARGUMENT_ERROR)):
            return InvalidInput(f"{where} rejected a value: {exc}")
        if isinstance(exc, asyncpg.PostgresError):
            return StoreUnavailable(
                self.role, f"{where} failed (SQLSTATE {exc.sqlstate}): {_describe(exc)}"
            )
        return StoreUnavailable(self.role, f"{where}: {_describe(exc)}")

    async def _migrate(
        self, conn: Connection, component: str, migrations: Sequence[Migration]
    ) -> None:
        schema = self.schema
        await conn.execute("SELECT pg_advisory_xact_lock($1)",
                           lock_key("memvault-migrations", schema))
        # Look before creating: CREATE ... IF NOT EXISTS needs the CREATE privilege even when
        # there is nothing to create, and a runtime role may lack it once migrated.
        if not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema
        ):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        if not await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f'"{schema}".schema_migrations'
        ):
            await conn.execute(_MIGRATIONS_TABLE)
        applied = [
            int(row["version"])
            for row in await conn.fetch(
                "SELECT version FROM schema_migrations WHERE component = $1", component
            )
        ]
        for migration in pending(component, migrations, applied, location=self.url.location):
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                component, migration.version, migration.name,
            )
