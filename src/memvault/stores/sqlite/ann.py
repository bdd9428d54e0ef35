"""An approximate nearest-neighbour graph over one user's vector rows (usearch HNSW, int8).

Keys are row positions in :class:`memvault.stores.sqlite.vectors.UserVectors`, so a memory
with several vectors owns several keys. Vectors are stored as int8: usearch quantises a
component ``x`` to ``round(127 * x)``, which leaves a unit vector of 384 dimensions (components
around 0.05) only a few levels, so rows are multiplied by a fixed ``scale`` first (inner
products keep their order under a common factor). The graph only proposes candidates; the
store rescores them from the exact float32 blobs, so the int8 error never reaches a score.

usearch is an optional dependency (the ``ann`` extra); without it every search is exact.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memvault.stores.base import Vector

__all__ = ["AnnGraph", "available"]

log = logging.getLogger(__name__)

_Index: Any = None
#: Why importing usearch failed, once it has: search then stays exact.
_failure: str | None = None

_CONNECTIVITY = 16
_EXPANSION_ADD = 64
_EXPANSION_SEARCH = 256
#: Largest component magnitude after scaling; beyond it int8 clips.
_CEILING = 0.98


def available() -> bool:
    """Whether the ANN library is installed (looked up, not imported) and has not failed to
    import."""
    return _failure is None and importlib.util.find_spec("usearch") is not None


def _index_class() -> Any:
    """usearch's ``Index``, imported on first use. ONNX Runtime, when installed, is imported
    first: from version 1.23 its module crashes in libstdc++'s locale set-up when it is
    loaded after usearch's compiled module (which carries its own libstdc++), and the local
    embedder may load it at any time."""
    global _Index, _failure
    if _Index is None:
        if _failure is not None:
            raise RuntimeError(_failure)
        try:
            if importlib.util.find_spec("onnxruntime") is not None:
                import onnxruntime  # noqa: F401
        except Exception:  # only there for the order; a broken one is the embedder's matter
            log.debug("onnxruntime did not import before usearch", exc_info=True)
        try:
            from usearch.index import Index
        except Exception as exc:  # an ImportError, or a library that fails as it loads
            _failure = f"usearch does not import: {exc}"
            raise RuntimeError(_failure) from exc
        _Index = Index
    return _Index


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class AnnGraph:
    """An HNSW graph of int8 rows keyed by position; ``scale`` is fixed at creation."""

    def __init__(self, dimensions: int, scale: float, index: Any | None = None) -> None:
        self.dimensions = dimensions
        self.scale = scale
        self._index: Any = index if index is not None else _index_class()(
            ndim=dimensions, metric="ip", dtype="i8", connectivity=_CONNECTIVITY,
            expansion_add=_EXPANSION_ADD, expansion_search=_EXPANSION_SEARCH,
        )

    @staticmethod
    def scale_for(sample: Vector) -> float:
        """A factor that brings ``sample``'s largest component near int8's ceiling."""
        peak = float(np.max(np.abs(sample))) if sample.size else 0.0
        return _CEILING / peak if peak > 0 else 1.0

    def __len__(self) -> int:
        return int(self._index.size)

    def add(self, first_key: int, rows: Vector) -> None:
        """Insert ``rows`` under keys ``first_key, first_key + 1, ...``."""
        if rows.shape[0] == 0:
            return
        scaled = np.clip(rows * np.float32(self.scale), -1.0, 1.0).astype(np.float32)
        keys = np.arange(first_key, first_key + rows.shape[0], dtype=np.uint64)
        self._index.add(keys, scaled, threads=_threads())

    def remove(self, keys: npt.NDArray[np.int64]) -> None:
        if keys.shape[0]:
            self._index.remove(keys.astype(np.uint64))

    def search(self, vector: Vector, count: int) -> npt.NDArray[np.int64]:
        """Keys of about the ``count`` rows nearest ``vector`` by inner product, best first."""
        if count <= 0 or len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        self._index.expansion_search = max(_EXPANSION_SEARCH, 4 * count)
        found = self._index.search(vector.astype(np.float32), count)
        return np.asarray(found.keys, dtype=np.int64)

    def save(self, path: Path) -> None:
        self._index.save(str(path))

    @classmethod
    def load(cls, path: Path, dimensions: int, scale: float) -> AnnGraph:
        index = _index_class().restore(str(path))
        if index is None or int(index.ndim) != dimensions:
            raise ValueError(f"{path} is not an index of {dimensions} dimensions")
        return cls(dimensions, scale, index)
