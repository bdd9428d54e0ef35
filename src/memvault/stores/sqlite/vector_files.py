"""Saved vector graphs, so that a process's first search does not rebuild one.

A graph lives beside the database, in ``<database>.vectors/``, as two files per user: the
usearch graph and the row catalogue (memory rowid, seq and liveness per row, the seq it is
complete up to, the vector generation it was valid for). They are a cache: written to
temporary names and renamed, checked against each other when read, and ignored (the graph is
rebuilt from the table) when missing, stale in dimensions, damaged or not of this database
(a few sampled rows' seq, memory and a hash of their vector must still match where they
exist). Rows deleted or added since the save are applied by the usual prune and top-up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path

import numpy as np

from memvault.errors import IndexBuilding
from memvault.stores.sqlite import ann
from memvault.stores.sqlite.builds import INLINE_ROWS, GraphBuilds
from memvault.stores.sqlite.vectors import UserVectors

__all__ = ["VectorCaches", "VectorFiles"]

log = logging.getLogger(__name__)

_FORMAT = 1
_SAMPLES = 8


def _fingerprint(conn: sqlite3.Connection, seqs: list[int]) -> dict[int, tuple[int, str]]:
    """Memory rowid and vector hash of the rows ``seqs`` that exist."""
    marks = ",".join("?" * len(seqs))
    return {
        int(seq): (int(owner), hashlib.sha256(vector).hexdigest())
        for seq, owner, vector in conn.execute(
            f"SELECT seq, memory_rowid, vector FROM embeddings WHERE seq IN ({marks})", seqs)
    } if seqs else {}


class VectorFiles:
    """Where one database's graphs are saved; ``directory`` ``None`` saves nothing."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def beside(cls, database: Path) -> VectorFiles:
        if str(database) in ("", ":memory:"):
            return cls(None)
        return cls(database.with_name(database.name + ".vectors"))

    def _paths(self, user_id: str) -> tuple[Path, Path]:
        assert self.directory is not None
        stem = hashlib.sha256(user_id.encode()).hexdigest()[:32]
        return self.directory / f"{stem}.usearch", self.directory / f"{stem}.npz"

    def save(self, conn: sqlite3.Connection, user_id: str, cache: UserVectors) -> None:
        """Save ``cache``'s graph; failures are logged, never raised (it is a cache)."""
        if self.directory is None or cache.graph is None:
            return
        graph_path, meta_path = self._paths(user_id)
        suffix = f".{os.getpid()}.tmp"
        try:
            alive = np.flatnonzero(cache.alive)
            picks = alive[np.linspace(0, alive.shape[0] - 1, min(_SAMPLES, alive.shape[0]))
                          .astype(np.int64)] if alive.shape[0] else alive
            found = _fingerprint(conn, sorted({int(cache.seqs[i]) for i in picks}))
            sample_seqs = np.array(sorted(found), dtype=np.int64)
            sample_owners = np.array([found[q][0] for q in sorted(found)], dtype=np.int64)
            sample_hashes = np.array([found[q][1] for q in sorted(found)], dtype="U64")
            self.directory.mkdir(parents=True, exist_ok=True)
            graph_tmp = graph_path.with_name(graph_path.name + suffix)
            cache.graph.save(graph_tmp)
            meta_tmp = meta_path.with_name(meta_path.name + suffix)
            with meta_tmp.open("wb") as out:
                np.savez(
                    out, owners=cache.owners, seqs=cache.seqs, alive=cache.alive,
                    numbers=np.array([
                        _FORMAT, cache.dimensions, cache.generation, cache.last_seq,
                        len(cache.graph), graph_tmp.stat().st_size,
                    ], dtype=np.int64),
                    scale=np.array([cache.graph.scale], dtype=np.float64),
                    sample_seqs=sample_seqs, sample_owners=sample_owners,
                    sample_hashes=sample_hashes,
                )
            os.replace(graph_tmp, graph_path)
            os.replace(meta_tmp, meta_path)
            cache.unsaved = 0
        except OSError as exc:
            log.warning("could not save the vector graph in %s: %s", self.directory, exc)

    def load(self, conn: sqlite3.Connection, user_id: str, dimensions: int,
             ann_min: int | None) -> UserVectors | None:
        """The saved state of ``user_id``'s vectors, or ``None`` when there is none usable."""
        if self.directory is None or ann_min is None or not ann.available():
            return None
        graph_path, meta_path = self._paths(user_id)
        if not meta_path.exists() or not graph_path.exists():
            return None
        try:
            with np.load(meta_path) as meta:
                owners, seqs, alive = meta["owners"], meta["seqs"], meta["alive"]
                fmt, dims, generation, last_seq, graph_size, file_size = (
                    int(v) for v in meta["numbers"])
                scale = float(meta["scale"][0])
                samples = zip(meta["sample_seqs"].tolist(), meta["sample_owners"].tolist(),
                              meta["sample_hashes"].tolist(), strict=True)
                expected = {int(q): (int(o), str(h)) for q, o, h in samples}
            if (fmt, dims) != (_FORMAT, dimensions) or graph_path.stat().st_size != file_size:
                return None
            present = _fingerprint(conn, sorted(expected))
            if not present or any(expected[q] != v for q, v in present.items()):
                return None  # another database's graph, or every sampled row is gone
            graph = ann.AnnGraph.load(graph_path, dimensions, scale)
            if len(graph) != graph_size or owners.shape != seqs.shape:
                return None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("ignoring the saved vector graph %s: %s", graph_path, exc)
            return None
        cache = UserVectors(dimensions, generation, ann_min)
        cache.restore(owners, seqs, alive, last_seq, graph)
        return cache


class VectorCaches:
    """The vectors of each user searched in this process, kept in step with the table.

    ``builds`` takes the large graph builds off the searches (see
    :mod:`memvault.stores.sqlite.builds`); without it every top-up is done in the search."""

    def __init__(self, files: VectorFiles, ann_min: int | None,
                 builds: GraphBuilds | None = None) -> None:
        self.files = files
        self.ann_min = ann_min
        self.builds = builds
        self.users: dict[str, UserVectors] = {}

    def refresh(self, conn: sqlite3.Connection, user_id: str, dimensions: int) -> UserVectors:
        """The user's vectors, brought up to date.

        Call it first in a read transaction, so that the generation and the rows read belong
        together even while another process deletes and adds (rowids of deleted memories can
        be reused; a row is known by its seq, which never is). The first call loads a saved
        graph if there is one. A graph built or grown by a quarter since it was saved is saved
        again. Raises :class:`~memvault.errors.IndexBuilding` while the user's graph is being
        built in the background.
        """
        cache = self.users.get(user_id)
        if cache is None and self.builds is not None:
            # Taken before the transaction's first read, so that every row the build read
            # is in this snapshot too (a prune here must not take newer rows for deleted).
            cache = self.builds.take(user_id)
            if cache is not None:
                # Kept at once: a read failing below must not throw away a finished build
                # (an encrypted store has no saved graph to fall back on).
                self.users[user_id] = cache
            elif (progress := self.builds.progress(user_id)) is not None:
                raise IndexBuilding("episodic", *progress)
        row = conn.execute(
            "SELECT generation FROM vector_generations WHERE user_id = ?", (user_id,)
        ).fetchone()
        generation = row[0] if row else 0
        if cache is None or cache.dimensions != dimensions:
            cache = self.files.load(conn, user_id, dimensions, self.ann_min)
        if cache is None:
            cache = UserVectors(dimensions, generation, self.ann_min)
        if cache.generation != generation:
            if not cache.prune(conn, user_id):
                cache = UserVectors(dimensions, generation, self.ann_min)
            cache.generation = generation
        incoming = cache.incoming(conn, user_id)
        into_graph = incoming if cache.graph is not None else (
            cache.live_rows + incoming if cache.wants_graph(incoming) else 0)
        if (self.builds is not None and into_graph > INLINE_ROWS
                and self.builds.start(user_id, cache, incoming)):
            self.users.pop(user_id, None)
            raise IndexBuilding("episodic", cache.live_rows, cache.live_rows + incoming)
        self.users[user_id] = cache
        cache.top_up(conn, user_id, incoming)
        if cache.graph is not None and cache.unsaved > max(1000, cache.size // 4):
            self.files.save(conn, user_id, cache)
        return cache

    def stop(self) -> None:
        """Stop the background builds (their work is lost; the next process starts again)."""
        if self.builds is not None:
            self.builds.stop()

    def resume(self) -> None:
        """Allow background builds again (the store is opened again after a close)."""
        if self.builds is not None:
            self.builds.resume()

    def save_all(self, conn: sqlite3.Connection) -> None:
        """Save every graph changed since its last save."""
        for user_id, cache in self.users.items():
            if cache.graph is not None and cache.unsaved:
                self.files.save(conn, user_id, cache)
