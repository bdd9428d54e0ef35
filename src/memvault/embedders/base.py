"""The embedder role: text in, unit vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "Embedder", "Matrix", "PassageEmbedder", "Passages", "QueryEmbedder", "Span", "normalise",
]

Matrix = npt.NDArray[np.float32]

Span = tuple[int, int]
"""A ``(start, end)`` character span of a text."""


class Passages(NamedTuple):
    """A text's vectors and, per row, the span of the text it stands for."""

    vectors: Matrix
    spans: list[Span]


@runtime_checkable
class Embedder(Protocol):
    """``name`` identifies the model (it is recorded in the store, and a store refuses vectors
    from another). ``load`` may be slow and is called once, off the request path; ``embed``
    returns one L2-normalised float32 row per text."""

    @property
    def name(self) -> str: ...

    async def load(self) -> None: ...

    async def embed(self, texts: Sequence[str]) -> Matrix: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PassageEmbedder(Embedder, Protocol):
    """An embedder that can also give passage vectors: for each text a matrix whose first row
    is :meth:`embed`'s vector for it (its span the whole text) and whose other rows stand for
    its sentences, with their spans."""

    async def embed_passages(self, texts: Sequence[str]) -> list[Passages]: ...


@runtime_checkable
class QueryEmbedder(Embedder, Protocol):
    """An embedder with its own way to embed searches: :meth:`embed_query` gives the vectors
    of queries, ahead of the memories queued for theirs (at most one step of the batch in
    flight), and in the query form where the model has one (e5's ``query: `` prefix, where
    :meth:`embed` uses ``passage: ``)."""

    async def embed_query(self, texts: Sequence[str]) -> Matrix: ...


def normalise(matrix: npt.ArrayLike) -> Matrix:
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Matrix = (array / norms).astype(np.float32)
    return result
