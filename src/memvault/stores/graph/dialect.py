"""What differs between the graph databases, behind one small interface.

:class:`~memvault.stores.graph.cypher.CypherEpisodicStore` holds every query; a
:class:`Dialect` supplies only what a database does its own way: the index DDL, the full-text
and vector procedures and their query syntax, the way a pattern is tested for existence, and the
driver (connect, run statements, map its errors to
:class:`~memvault.errors.StoreUnavailable`).

Values always travel as query parameters, encoded alike for every dialect by the helpers
here and in :mod:`memvault.stores.codec` (times as integer microseconds, vectors as lists of
floats, metadata as JSON text plus canonical pairs). What cannot be a parameter (labels, index
names, graph names) is derived from configuration, checked against :data:`NAME_PATTERN`, and
only then written into Cypher.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memvault.errors import ConfigError, InvalidInput, StoreUnavailable
from memvault.stores.base import Vector

__all__ = [
    "LABELS",
    "NAME_PATTERN",
    "Dialect",
    "Labels",
    "Row",
    "Statement",
    "check_name",
    "metadata_pair",
    "metadata_pair_prefix",
    "metadata_pairs",
    "url_seconds",
    "vector_values",
    "words",
]

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

#: The node labels of the graph model, as written in the shared Cypher.
LABELS = ("Memory", "Entity", "Session", "User", "Meta", "Embedding", "Pending",
          "MemoryVersion")

_LABEL_IN_CYPHER = re.compile(r"(?<=:)(" + "|".join(LABELS) + r")\b")
_WORD = re.compile(r"\w+")

Row = list[Any]


def check_name(value: str, what: str) -> str:
    """``value`` if it may be written into Cypher as a label, index or graph name."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid name: use 1 to 64 letters, digits or"
            " underscores, not starting with a digit"
        )
    return value


def words(term: str) -> list[str]:
    """The word characters of a search term, split where anything else stands: the only
    text that reaches a full-text query, so no query syntax can come through."""
    return _WORD.findall(term)


@dataclass(frozen=True)
class Statement:
    """One Cypher statement and its parameters."""

    cypher: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Labels:
    """The node labels of one namespace: the plain names, or each name followed by
    ``_<namespace>`` where a database shares one label space between namespaces (Neo4j)."""

    namespace: str = ""

    def __post_init__(self) -> None:
        if self.namespace:
            check_name(self.namespace, "namespace")
            for name in LABELS:
                check_name(self.of(name), "label")

    def of(self, name: str) -> str:
        return f"{name}_{self.namespace}" if self.namespace else name

    def apply(self, cypher: str) -> str:
        """Rewrite the labels of the shared Cypher (``(m:Memory)``) for this namespace."""
        if not self.namespace:
            return cypher
        return _LABEL_IN_CYPHER.sub(lambda match: self.of(match.group(1)), cypher)


def _canonical(value: object) -> object:
    """Metadata values compared as the SQLite store compares them: booleans as 0/1,
    integral floats as integers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def metadata_pair(key: str, value: object) -> str:
    return json.dumps([key, _canonical(value)], separators=(",", ":"), sort_keys=True)


def metadata_pair_prefix(key: str) -> str:
    """The text every pair of ``key`` starts with: ``["key",``."""
    return json.dumps([key], separators=(",", ":"))[:-1] + ","


def metadata_pairs(metadata: dict[str, Any]) -> list[str]:
    """One canonical JSON ``[key, value]`` string per metadata key, stored with a memory so
    that a metadata filter is a list-membership test on a parameter."""
    pairs = []
    for key, value in metadata.items():
        if value is None:
            continue  # like a missing key: only a ``None`` filter matches it
        if isinstance(value, dict | list):
            # Present, so a ``None`` filter must not match, but equal to no scalar.
            value = {"json": json.dumps(value, sort_keys=True)}
        pairs.append(metadata_pair(key, value))
    return sorted(pairs)


def vector_values(vector: Vector) -> list[float]:
    """A vector as the list of floats both drivers send."""
    values = [float(x) for x in np.asarray(vector, dtype=np.float32).reshape(-1)]
    if not all(math.isfinite(x) for x in values):
        raise InvalidInput("a vector has a value that is not a finite number")
    return values


class Dialect(ABC):
    """One graph database: its Cypher differences and its driver."""

    #: Backend name for status reports ("falkordb", "neo4j").
    backend: str
    #: Where the data lives, for messages and status; never holds a password.
    location: str
    labels: Labels

    # -- query language ---------------------------------------------------------------------

    #: ``CALL ... YIELD node, score``: full-text hits for the variable ``query`` (a string made
    #: by :meth:`fulltext_query`) on the index named by the parameter ``$fulltext_index``.
    fulltext_call: str
    #: ``CALL ... YIELD node, score``: the ``$k`` nearest :Embedding nodes to ``$vector`` on the
    #: index named by ``$vector_index``.
    vector_call: str
    #: An expression of ``score`` (from :attr:`vector_call`) giving the cosine similarity.
    similarity: str
    #: An expression turning the list of floats ``item.vector`` into the stored vector value.
    vector_value: str

    @abstractmethod
    def exists(self, pattern: str) -> str:
        """A boolean expression, usable in ``WHERE``, true when ``pattern`` matches."""

    @abstractmethod
    def fulltext_query(self, term: str) -> str | None:
        """The full-text query text for one search term, escaped for the database's query
        syntax; ``None`` when the term has nothing to search for."""

    @abstractmethod
    def index_params(self) -> dict[str, Any]:
        """Values of ``$fulltext_index`` and ``$vector_index``."""

    # -- schema -----------------------------------------------------------------------------

    @abstractmethod
    def schema(self) -> list[Statement]:
        """Statements creating the indexes and constraints that :meth:`run_schema` may find
        already there."""

    @abstractmethod
    def fulltext_index(self) -> list[Statement]:
        """Statements dropping the full-text index and creating it anew on ``m.text``, the
        analysed content (:func:`memvault.analysis.joined`)."""

    @abstractmethod
    def vector_index(self, dimensions: int | None) -> list[Statement]:
        """Statements dropping the vector index and, given ``dimensions``, creating it anew."""

    @abstractmethod
    def ensure_vector_index(self, dimensions: int) -> list[Statement]:
        """Statements creating the vector index if it is missing."""

    # -- driver -----------------------------------------------------------------------------

    def unavailable(self, detail: str) -> StoreUnavailable:
        """The error for a failure of this database: ``detail`` after where the data lives."""
        return StoreUnavailable("episodic", f"{self.location}: {detail}")

    @abstractmethod
    async def connect(self) -> None:
        """Create the client; connections themselves may be made lazily."""

    @abstractmethod
    async def close(self) -> None:
        """Release the client; may be called twice."""

    @abstractmethod
    async def run(self, statements: Sequence[Statement], *, write: bool) -> list[list[Row]]:
        """Run statements in order, in one transaction where the database has them, and return
        each statement's rows. Driver failures become ``StoreUnavailable``."""

    @abstractmethod
    async def run_schema(self, statements: Sequence[Statement]) -> None:
        """Run schema statements one by one, tolerating what already exists or is gone."""

    @abstractmethod
    async def drop_namespace(self) -> None:
        """Delete every node and index of this namespace (for tests and resets)."""


def url_seconds(query: dict[str, list[str]], name: str, default: float, database: str) -> float:
    """A timeout in seconds from a store URL's query (``?timeout=30``), checked."""
    if name not in query:
        return default
    try:
        value = float(query[name][-1])
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ConfigError(
            f"{name} in the {database} URL must be a number of seconds (0 to 3600)"
        )
    return value
