"""Query text → search terms: its analysed tokens without stop words, deduplicated.

The tokens are :func:`memvault.analysis.tokens` of the query (what the full-text index
holds: English words, CJK character bigrams, indicators such as IP addresses whole), so the
terms a search asks for, the terms an explanation says were matched and the terms an
excerpt looks for are the same in every language.

A CJK stop word of several characters (什么, 哪里, どこ) first cuts the query's run of
characters where it stands, as a function character does in the analysis: "我开什么车"
asks for "我开" and "车", not for the bigrams "开什" and "么车" that straddle it.
"""

from __future__ import annotations

import re

from memvault.analysis import has_cjk, tokens
from memvault.core.text.stopwords import CJK_STOP_WORDS, STOP_WORDS

__all__ = ["terms"]

_CJK_CUTS = re.compile("|".join(sorted((w for w in CJK_STOP_WORDS if len(w) > 1),
                                       key=len, reverse=True)))


def terms(text: str) -> list[str]:
    """The distinct content tokens of ``text``, in order of first appearance."""
    if has_cjk(text):
        text = _CJK_CUTS.sub(" ", text)
    seen: dict[str, None] = {}
    for token in tokens(text, query=True):
        if token not in STOP_WORDS:
            seen.setdefault(token, None)
    return list(seen)
