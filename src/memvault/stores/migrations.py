"""Numbered schema migrations, one list per component, and the rule for running them.

Each database records the versions it has applied in a ``schema_migrations`` table
(``component``, ``version``, ``name``, ``applied_at``). Opening a store reads the component's
recorded versions and asks :func:`pending` what to run: the unapplied steps in version order,
or a :class:`~memvault.errors.ConfigError` when the store was migrated by a newer memvault
(its schema is not one this code may read or write). The database applies the steps and
records each one in the same transaction, under its own lock, so concurrent openers apply
every step once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from memvault.errors import ConfigError

__all__ = ["Migration", "pending"]


@dataclass(frozen=True)
class Migration:
    """A numbered schema step of one component, applied once and recorded. ``sql`` is in the
    database's own dialect (how it is split into statements is the database's affair).
    ``run``, when given, is called with the database's connection after the statements, in
    the same transaction, for what SQL alone cannot do (re-indexing text cut in Python)."""

    version: int
    name: str
    sql: str
    run: Callable[[Any], None] | None = None


def pending(
    component: str, migrations: Sequence[Migration], applied: Iterable[int], *, location: str
) -> list[Migration]:
    """The steps of ``migrations`` not in ``applied``, by version.

    Raises :class:`ConfigError` naming the recorded and the known version when ``applied``
    holds a version newer than every step this code knows: ``location`` says which store.
    """
    done = set(applied)
    known = {m.version for m in migrations}
    if done - known:
        raise ConfigError(
            f"{component} schema version {max(done)} in {location} is newer than this"
            f" memvault knows ({max(known, default=0)}); upgrade memvault"
        )
    return sorted((m for m in migrations if m.version not in done), key=lambda m: m.version)
