"""Passage vectors by late chunking: one forward pass per text, then one mean-pooled vector per
sentence from the same token outputs.

A memory such as "Thanks! I've done weight training so far. It was challenging but peaceful,
kinda like yoga." holds several facts; its single vector is an average of all of them, and a
question about one fact matches it weakly. Embedding each sentence on its own would lose the
context ("it" is the training) and cost a model pass per sentence. Pooling the token vectors
of each sentence's span, taken from the pass over the whole text, gives sentence vectors that
keep their context, at no extra model cost (Günther et al., "Late Chunking", 2024).

This applies to mean-pooling models only; for others the whole-text vector is used alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from memvault.embedders.base import Matrix, Passages, Span, normalise

__all__ = [
    "MIN_SENTENCE_WORDS",
    "passage_vectors",
    "pool_passages",
    "sentence_spans",
    "whole_vectors",
]

#: Sentences shorter than this many words ("Wow!", "Thanks, Mel.") get no vector of their own.
MIN_SENTENCE_WORDS = 3

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_WORD = re.compile(r"\w+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` worth a vector; empty when there is at
    most one (the whole-text vector already covers it)."""
    spans = [
        (m.start(), m.end()) for m in _SENTENCE.finditer(text)
        if len(_WORD.findall(m.group())) >= MIN_SENTENCE_WORDS
    ]
    return spans if len(spans) >= 2 else []


def pool_passages(
    text: str,
    hidden: npt.NDArray[np.float32],
    offsets: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
) -> Passages:
    """The whole-text vector, then one per sentence, as unit rows, with their spans.

    ``hidden`` holds the model's last layer for one text (tokens x dimensions), ``offsets``
    each token's character span in ``text`` and ``mask`` which tokens are real (padding 0).
    Special tokens have an empty span: they count towards the whole text only, as in the
    model's own mean pooling. A sentence the model did not see (truncated) gets no row.
    """
    real = mask.astype(bool)
    rows = [hidden[real].mean(axis=0)]
    spans: list[Span] = [(0, len(text))]
    starts, ends = offsets[:, 0], offsets[:, 1]
    for start, end in sentence_spans(text):
        inside = real & (ends > starts) & (ends > start) & (starts < end)
        if inside.any():
            rows.append(hidden[inside].mean(axis=0))
            spans.append((start, end))
    return Passages(normalise(np.stack(rows)), spans)


def passage_vectors(
    text: str,
    hidden: npt.NDArray[np.float32],
    offsets: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
) -> Matrix:
    """:func:`pool_passages`' vectors alone."""
    return pool_passages(text, hidden, offsets, mask).vectors


def whole_vectors(texts: Sequence[str], vectors: Sequence[npt.ArrayLike]) -> list[Passages]:
    """One row per text, for models that cannot give passage vectors."""
    return [Passages(normalise(v), [(0, len(t))]) for t, v in zip(texts, vectors, strict=True)]
