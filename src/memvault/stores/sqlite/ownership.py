"""Whether a SQLite file is a memvault store, so that memvault never writes into another
application's database.

A memvault store records every schema step it applied in ``schema_migrations``
(``component``, ``version``, ``name``, ``applied_at``; see :mod:`memvault.stores.migrations`),
each step in the transaction that applied it, and every memvault release has done so: a file
holding any schema object is a memvault store exactly when it has that table, with those
columns, holding a row. A database holding no schema object at all (a new or empty file) is
free to become one: the first store role to open it creates its tables there, and the other
roles (each with migrations of its own) then find its record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memvault.errors import ConfigError

__all__ = ["is_foreign", "refuse_foreign"]

#: The columns of memvault's migration record (other tools have a ``schema_migrations`` too).
_RECORD = frozenset({"component", "version", "name", "applied_at"})


def is_foreign(conn: Any) -> bool:
    """Whether the database ``conn`` reads holds a schema but no memvault migration record.
    Only reads; the driver's errors (a busy or damaged file) propagate as they are."""
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        return False  # empty: a new store
    columns = {row[0] for row in conn.execute(
        "SELECT name FROM pragma_table_info('schema_migrations')")}
    if not columns >= _RECORD:  # no such table, or another tool's
        return True
    return conn.execute("SELECT 1 FROM schema_migrations LIMIT 1").fetchone() is None


def refuse_foreign(conn: Any, path: Path | str) -> None:
    """Raise :class:`ConfigError`, one line naming ``path``, when :func:`is_foreign`."""
    if is_foreign(conn):
        raise ConfigError(
            f"{path} is not a memvault store: it holds another application's tables and no "
            "memvault schema record (nothing was written to it); give the path of a memvault "
            "store, or of a new file")
