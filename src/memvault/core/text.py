"""Query text → search terms: lower-case words without stop words, deduplicated."""

from __future__ import annotations

import re

__all__ = ["STOP_WORDS", "terms"]

STOP_WORDS = frozenset(
    """
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can could couldn't did didn't do does doesn't doing don't down
during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's
her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't
it it's its itself let's me more most mustn't my myself no nor not of off on once only or other
ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so
some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through to too under until up very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's
whom why why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves s t d ll m re ve just also did does get got us
""".split()
)

_WORD = re.compile(r"[\w][\w'’]*", re.UNICODE)


def terms(text: str) -> list[str]:
    """The distinct content words of ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        word = word.strip("'")
        if word and word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)
