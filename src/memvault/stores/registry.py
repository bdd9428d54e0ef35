"""Pick a store implementation from a URL.

Each scheme maps to ``"module:Class"``, imported only when that scheme is used, so a heavy
driver is needed only by those who configure it. The class takes the URL as its only argument.
A store "URL" may also be a bare file path, which names a SQLite file (:func:`is_path`); the
configuration passes paths through unchanged and this module is where they are told apart.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast
from urllib.parse import urlparse

from memvault.config import SearchConfig
from memvault.errors import ConfigError
from memvault.stores.crypto import KeySet

if TYPE_CHECKING:  # the store roles bring numpy: not needed to check a configuration's keys
    from memvault.stores.base import AddWriter, EpisodicStore, ProfileStore, WorkingStore

__all__ = [
    "KeySet",
    "Role",
    "add_writer",
    "check_file_keys",
    "is_file_store",
    "is_path",
    "names_store_file",
    "open_episodic",
    "open_profile",
    "open_working",
    "reencrypt_file",
    "scheme_of",
    "schemes",
    "store_files",
]

Role = Literal["episodic", "profile", "working"]

_REGISTRY: dict[Role, dict[str, tuple[str, str]]] = {
    "episodic": {
        "sqlite": ("memvault.stores.sqlite.episodic:SqliteEpisodicStore", "memvault"),
        "falkordb": ("memvault.stores.graph.falkordb:FalkorEpisodicStore", "memvault[falkordb]"),
        "neo4j": ("memvault.stores.graph.neo4j:Neo4jEpisodicStore", "memvault[neo4j]"),
        "bolt": ("memvault.stores.graph.neo4j:Neo4jEpisodicStore", "memvault[neo4j]"),
    },
    "profile": {
        "sqlite": ("memvault.stores.sqlite.profile:SqliteProfileStore", "memvault"),
        "postgresql": ("memvault.stores.postgres.profile:PostgresProfileStore",
                       "memvault[postgres]"),
        "postgres": ("memvault.stores.postgres.profile:PostgresProfileStore",
                     "memvault[postgres]"),
    },
    "working": {
        "sqlite": ("memvault.stores.sqlite.working:SqliteWorkingStore", "memvault"),
        "redis": ("memvault.stores.redis.working:RedisWorkingStore", "memvault[redis]"),
        "rediss": ("memvault.stores.redis.working:RedisWorkingStore", "memvault[redis]"),
        "memory": ("memvault.stores.memory.working:InMemoryWorkingStore", "memvault"),
    },
}


def is_path(url: str) -> bool:
    """Whether a store URL is a bare file path (no ``scheme://``): a SQLite file."""
    return "://" not in url


def is_file_store(url: str) -> bool:
    """Whether ``url`` names a SQLite file: its keys are checked on the file
    (:func:`check_file_keys`), its stores have no check of their own."""
    return scheme_of(url) == "sqlite"


def scheme_of(url: str) -> str:
    """The URL's scheme; a bare path counts as ``sqlite``."""
    scheme = "sqlite" if is_path(url) else urlparse(url).scheme
    return scheme.split("+", 1)[0].lower()


def schemes(role: Role) -> list[str]:
    return sorted(_REGISTRY[role])


#: The backends that encrypt (take ``keys``); the others store as they do without a key.
_ENCRYPTING = {"sqlite", "postgresql", "postgres"}
#: The graph backends, which seal memory content only when asked (``encrypt_content``).
_SEALING_CONTENT = {"falkordb", "neo4j", "bolt"}


def _load(role: Role, url: str, keys: KeySet | None = None, /, **options: object) -> object:
    scheme = scheme_of(url)
    if keys is not None and scheme in _ENCRYPTING:
        options["keys"] = keys
    entry = _REGISTRY[role].get(scheme)
    if entry is None:
        raise ConfigError(
            f"no {role} store for {scheme}:// URLs; available: "
            + ", ".join(f"{s}://" for s in schemes(role))
        )
    target, extra = entry
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme} {role} store needs an extra: pip install '{extra}' ({exc})"
        ) from exc
    return getattr(module, class_name)(url, **options)


def open_episodic(url: str, *, search: SearchConfig | None = None,
                  keys: KeySet | None = None, encrypt_content: bool = False) -> EpisodicStore:
    """An unopened episodic store for ``url``; call ``await store.open()``.

    ``search`` (default: the defaults) says whether and from what size the SQLite store's
    vector search uses its approximate graph; other backends have none. ``keys`` encrypt
    what the backend encrypts (:mod:`memvault.stores.crypto`); the graph backends seal memory
    content and metadata with them only when ``encrypt_content`` is set."""
    search = search or SearchConfig()
    options: dict[str, object] = {}
    if scheme_of(url) == "sqlite":
        options["ann_min"] = search.ann_min_vectors if search.ann else None
    if keys is not None and encrypt_content and scheme_of(url) in _SEALING_CONTENT:
        options["keys"], keys = keys, None
    return cast("EpisodicStore", _load("episodic", url, keys, **options))


def open_profile(url: str, *, keys: KeySet | None = None) -> ProfileStore:
    return cast("ProfileStore", _load("profile", url, keys))


def open_working(url: str, *, keys: KeySet | None = None) -> WorkingStore:
    return cast("WorkingStore", _load("working", url, keys))


def add_writer(
    episodic: EpisodicStore, profile: ProfileStore, working: WorkingStore, *, max_turns: int,
    ttl_seconds: float,
) -> AddWriter:
    """How adds reach these stores whole or not at all: one transaction where the episodic
    store's class offers a ``joint_writer`` that accepts the other two (the SQLite stores of
    one file), else ordered writes through the episodic store's outbox. The method is looked up
    on the class, so an object that merely forwards attributes to a store gets the ordered
    writes, through its own methods."""
    from memvault.stores.outbox import OutboxWriter

    joint = getattr(type(episodic), "joint_writer", None)
    if joint is not None:
        writer = cast("AddWriter | None", joint(episodic, profile, working, max_turns=max_turns,
                                              ttl_seconds=ttl_seconds))
        if writer is not None:
            return writer
    return OutboxWriter(episodic, profile, working, max_turns=max_turns,
                        ttl_seconds=ttl_seconds)


def names_store_file(path: Path, urls: Sequence[str]) -> bool:
    """Whether ``path`` is one of the store files among ``urls``, or a file kept beside one
    (a link included); nothing is opened. Blocking: run it in a worker thread."""
    files = store_files(urls)
    if not files:
        return False
    cipher = importlib.import_module("memvault.stores.sqlite.cipher")
    return any(cipher.names_file(path.expanduser(), database) for database in files)


def store_files(urls: Sequence[str]) -> list[Path]:
    """The distinct SQLite files among store URLs (the ones encrypted as a whole)."""
    files: dict[Path, None] = {}
    for url in urls:
        if is_file_store(url):
            db = importlib.import_module("memvault.stores.sqlite.db")
            files[Path(db.path_from_url(url)).resolve()] = None
    return list(files)


def reencrypt_file(path: Path, keys: KeySet, mode: Literal["encrypt", "rekey"],
                   pause: Callable[[str], None]) -> str:
    """Encrypt a plain SQLite store file, or re-encrypt one under an old key, in place and
    crash-safe (:mod:`memvault.stores.sqlite.convert`); says what was done."""
    convert = importlib.import_module("memvault.stores.sqlite.convert")
    return str(convert.reencrypt(path, keys, mode, pause))


def check_file_keys(urls: Sequence[str], keys: KeySet | None) -> None:
    """Refuse (:class:`~memvault.errors.EncryptionError`, one line naming the key settings)
    when ``keys`` do not open a SQLite file among ``urls`` as configured: encrypted without
    a key, plain with one, or under another key. Blocking: run it in a worker thread."""
    if not any(is_file_store(url) for url in urls):
        return
    cipher = importlib.import_module("memvault.stores.sqlite.cipher")
    for path in store_files(urls):
        cipher.check(path, keys)
