"""Every passage of a long text embedded: the text is cut by :func:`memvault.passages.split`
into windows the model sees whole, and each window is embedded on its own.

A model truncates its input (all-MiniLM-L6-v2 at 256 word pieces, about 1,000 characters of
English), so a 5,000-character message embedded whole is known by its first fifth only. Here
each window gets a vector (and, from an embedder with passage vectors, one per sentence of
the window, pooled from the window's own pass); the text's own vector is the mean of its
window vectors, weighted by their length. A text that fits one window is embedded as before.

The result per text, :class:`~memvault.embedders.base.Passages`: row 0 the whole text (span
over all of it), then for each window its vector and its sentences' vectors, every row with
the character span of the text it stands for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memvault.embedders.base import Embedder, PassageEmbedder, Passages, Span, normalise
from memvault.passages import PASSAGE_TOKENS, split

__all__ = ["embed_windows", "window_spans"]


def window_spans(embedder: Embedder, text: str) -> list[Span]:
    """The windows of ``text`` for ``embedder`` (its ``passage_tokens`` if it has one, else
    :data:`~memvault.passages.PASSAGE_TOKENS`); a blank text is one empty window."""
    tokens = getattr(embedder, "passage_tokens", PASSAGE_TOKENS)
    return split(text, max_tokens=float(tokens)) or [(0, len(text))]


async def embed_windows(
    embedder: Embedder, texts: Sequence[str], *, sentences: bool = True, windows: bool = True
) -> list[Passages]:
    """Vectors and spans for each of ``texts`` (see the module docstring).

    ``sentences``: sentence rows too, where the embedder gives them. ``windows`` false embeds
    each text whole, as far as the model reads it (its first window).
    """
    cuts = [window_spans(embedder, t) if windows else [(0, len(t))] for t in texts]
    pieces = [text[a:b] for text, spans in zip(texts, cuts, strict=True) for a, b in spans]
    embedded: list[Passages]
    if sentences and isinstance(embedder, PassageEmbedder):
        embedded = await embedder.embed_passages(pieces)
    else:
        vectors = await embedder.embed(pieces) if pieces else np.zeros((0, 0), np.float32)
        embedded = [Passages(vectors[i : i + 1], [(0, len(p))]) for i, p in enumerate(pieces)]
    out: list[Passages] = []
    position = 0
    for spans in cuts:
        parts = embedded[position : position + len(spans)]
        position += len(spans)
        shifted = [
            [(start + a, start + b) for a, b in part.spans]
            for (start, _), part in zip(spans, parts, strict=True)
        ]
        if len(parts) == 1:
            out.append(Passages(parts[0].vectors, shifted[0]))
            continue
        weights = np.array([[end - start] for start, end in spans], dtype=np.float32)
        whole = normalise((np.stack([p.vectors[0] for p in parts]) * weights).sum(axis=0))
        out.append(Passages(
            np.concatenate([whole, *(p.vectors for p in parts)]),
            [(spans[0][0], spans[-1][1]), *(s for row in shifted for s in row)],
        ))
    return out
