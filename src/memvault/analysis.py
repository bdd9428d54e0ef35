"""Full-text analysis that knows scripts: text → the tokens the index holds and a query asks for.

One analysis for every language memvault stores, applied the same way to what is indexed and
to what is asked:

1. **Normalise**: Unicode NFKC (full-width letters, digits and punctuation become their
   ordinary forms: "２０２５" → "2025", "Ｃｏｂａｌｔ" → "Cobalt"), then lower case.
2. **Whole tokens**: URLs, e-mail addresses, IP addresses (with a port or prefix length),
   versions, file paths and dotted or hyphenated identifiers with a digit ("CVE-2024-3400",
   "v1.2.3", "/var/log/auth.log", "10.120.8.21") stay one token. Indexed, their parts are
   tokens too, so a search for "auth" finds "/var/log/auth.log"; asked, the whole token alone
   is the term, so "10.120.8.21" does not find every address with a 10 in it.
3. **Scripts**: a change of script ends a token ("分析员alice经常" → "分析员", "alice", "经常").
   Runs of Han, Kana and Hangul have no spaces between words: they become overlapping
   character bigrams ("低风险理财" → "低风", "风险", "险理", "理财"), as Lucene's CJK analyzer
   and Elasticsearch's ``cjk_bigram`` do, after the run is cut at CJK function characters
   (的, 是, 了 …, see :data:`CJK_BREAKS`); a run of one character is a token of its own.
   Every character of a longer run is a token too, after the run's bigrams (as Lucene's
   ``outputUnigrams``), asked as indexed: a query of one character ("猫") finds the runs
   that hold it, and a word that a function character cuts ("搬到" is "搬" + 到) still
   meets its other half; the bigrams, rarer, weigh more.
4. **Words** of other scripts are runs of letters and digits, apostrophes inside them kept
   ("don't"), a possessive "'s" dropped.

Stop words are not removed here; what a query leaves out is the caller's choice.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "ANALYSIS_VERSION", "CJK", "CJK_BREAKS", "has_cjk", "is_cjk", "joined", "mask_cjk", "tokens",
]

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
_CJK = _HAN + _KANA + _HANGUL
#: The Han, Kana and Hangul ranges, for a regular expression's character class (``[{CJK}]``).
CJK = _CJK

#: Function characters of Chinese and Japanese that end a run before bigrams are made: they
#: glue words together ("我的朋友" is "我" + "朋友") and a bigram across them matches noise.
CJK_BREAKS = frozenset("的了是在和与及或也都就而被把给对从到吗呢吧啊之其这那个们着过很"
                       "のはがをにでともへやか")

#: Changes whenever :func:`tokens` changes what it makes of a text: a store that keeps
#: analysed text records it, and re-analyses what an older version analysed.
ANALYSIS_VERSION = 1

_A = rf"[^\W{_CJK}]"  # a letter, digit or underscore of a spaced script
_WHOLE = (
    rf"https?://[^\s<>\"'{_CJK}]+"
    rf"|(?:{_A}|[.+-])+@(?:{_A}|-)+(?:\.(?:{_A}|-)+)+"
    r"|\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}|:\d{1,5})?"
    rf"|(?:[a-z]:\\|~/|/)(?:{_A}|[.\-/\\])*{_A}"
    rf"|(?:{_A}|-)*\d(?:{_A}|-)*(?:\.(?:{_A}|-)+)+"
    rf"|(?:{_A}|-)+(?:\.(?:{_A}|-)+)*\.\d(?:{_A}|[.-])*"
    rf"|[a-z]{_A}*(?:-{_A}+)*-\d(?:{_A}|-)*"
    rf"|{_A}+(?:[/\\](?:{_A}|[.\-])+)+"
    rf"|{_A}+(?:[.-]{_A}+)*\.[a-z]{{1,5}}(?![^\W{_CJK}])"
)
_PLAIN = re.compile(r"([a-z]+(?:['’][a-z]+)?)[,.;:!?\"')\]]*")
_PART = re.compile(rf"[^\W_{_CJK}]+")
_ONE_CJK = re.compile(f"[{_CJK}]")
_BREAK = re.compile(f"[{''.join(sorted(CJK_BREAKS))}]+")


def is_cjk(char: str) -> bool:
    """Whether ``char`` is Han, Kana or Hangul."""
    return bool(_ONE_CJK.fullmatch(char))


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Han, Kana or Hangul character."""
    return _ONE_CJK.search(text) is not None


def mask_cjk(text: str, fill: str = "\u00b7") -> str:
    """``text`` with each Han, Kana and Hangul character replaced by ``fill`` (one
    character, by default "·"): offsets stay the same, and the regular expressions written
    for spaced scripts (``\\b``, ``\\w``) see a Latin word glued to Chinese as a word."""
    return _ONE_CJK.sub(fill, text)


def tokens(text: str, *, query: bool = False) -> list[str]:
    """The tokens of ``text`` in order, repeats kept.

    ``query=True`` analyses a search: whole tokens (addresses, paths, versions) are not
    broken into their parts.
    """
    normal = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for chunk in normal.split():
        plain = _PLAIN.fullmatch(chunk)
        if plain is not None:  # most chunks: one word, perhaps with punctuation after it
            out.append(_word(plain.group(1)))
        else:
            _analyse(chunk, out, query)
    return [t for t in out if t]


def joined(text: str, *, query: bool = False) -> str:
    """:func:`tokens` of ``text`` joined by spaces: the text a full-text index is given
    (and, with ``query``, a search's term), for an index that splits at spaces."""
    return " ".join(tokens(text, query=query))


@functools.cache
def _token() -> re.Pattern[str]:
    """The tokenizer of the chunks that are not one plain word; compiled on first use, as
    its Unicode classes take about a tenth of a second to compile (not at start-up)."""
    return re.compile(
        rf"(?P<whole>{_WHOLE})|(?P<cjk>[{_CJK}]+)|(?P<word>(?:[^\W_{_CJK}]|['’](?=[^\W_]))+)",
        re.IGNORECASE,
    )


def _analyse(chunk: str, out: list[str], query: bool) -> None:
    for match in _token().finditer(chunk):
        if (whole := match.group("whole")) is not None:
            whole = whole.rstrip(".-")
            out.append(whole)
            parts = _PART.findall(whole)
            if not query and len(parts) > 1:
                out.extend(parts)
        elif (run := match.group("cjk")) is not None:
            out.extend(_bigrams(run))
        else:
            out.append(_word(match.group("word")))


def _word(word: str) -> str:
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.strip("'")


def _bigrams(run: str) -> list[str]:
    out: list[str] = []
    for piece in _BREAK.split(run):
        if len(piece) == 1:
            out.append(piece)
        elif piece:
            out.extend(piece[i:i + 2] for i in range(len(piece) - 1))
            out.extend(piece)
    return out
