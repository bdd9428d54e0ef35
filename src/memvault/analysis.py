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

What the index compares is one step further: its tokenizer (SQLite FTS5 ``unicode61``) also
removes diacritics from Latin letters ("café" and "cafe" are one token). :func:`fold` is
that comparison form of a text, and :func:`folded` the same with the way back to the text's
own offsets, for finding a query's terms in a stored text as the index found them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right

__all__ = [
    "ANALYSIS_VERSION", "CJK", "CJK_BREAKS", "Folded", "fold", "folded", "has_cjk", "is_cjk",
    "joined", "mask_cjk", "tokens",
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


def fold(text: str) -> str:
    """``text`` as the full-text index compares it: NFKC and lower case (as :func:`tokens`
    has it), then the folding of the index's tokenizer (FTS5 ``unicode61`` with its default
    ``remove_diacritics 1``): a Latin letter with one diacritic is the plain letter ("é" →
    "e", "ñ" → "n"; "ǖ", with two, stays) and a final sigma is a sigma. Other combining marks
    stay; like :func:`tokens`, a word ends at one."""
    if text.isascii():
        return text.lower()
    return _letters(unicodedata.normalize("NFKC", text).lower())


class Folded:
    """A text's :func:`fold` (:attr:`text`) and the way back from its offsets to the
    original's: full-width letters keep their place, but ligatures ("ﬁ" is "fi"),
    compatibility characters ("①" is "1", "…" is "...") and decomposed accents ("e" and
    U+0301 are "e") do not keep their length."""

    __slots__ = ("_at", "_length", "_moves", "text")

    def __init__(self, text: str, length: int,
                 moves: list[tuple[int, int, int, int]] | None = None) -> None:
        #: The folded text.
        self.text = text
        self._length = length  # the original's
        # The pieces not kept character for character, in order: (folded start, folded
        # length, start and length in the original). Between them, and before the first,
        # one character is one.
        self._moves = moves or []
        self._at = [m[0] for m in self._moves]

    @property
    def moved(self) -> bool:
        """Whether an offset of the folded text may differ from the original's."""
        return bool(self._moves)

    def start(self, at: int) -> int:
        """The offset in the original of the character at folded offset ``at``."""
        index = bisect_right(self._at, at) - 1
        if index < 0:
            return at
        begin, length, raw, raw_length = self._moves[index]
        if at < begin + length:
            return raw  # inside a piece not kept character for character: its start
        return min(raw + raw_length + at - begin - length, self._length)

    def end(self, at: int) -> int:
        """The offset in the original where a folded span ending at ``at`` ends."""
        index = bisect_right(self._at, at - 1) - 1
        if index < 0:
            return at
        begin, length, raw, raw_length = self._moves[index]
        if at <= begin + length:
            return raw + raw_length  # inside such a piece: its end
        return min(raw + raw_length + at - begin - length, self._length)


def folded(text: str) -> Folded:
    """:func:`fold` of ``text``, with the way back to its offsets (:class:`Folded`).

    Cheap where it can be: an ASCII text is only lower-cased, and one that NFKC leaves as
    it is is lower-cased and folded character for character (offsets unchanged). Otherwise
    the text is taken in blocks of about :data:`_BLOCK` characters, and in those NFKC
    changes only the stretches it may change are normalised, each on its own.
    """
    if text.isascii():
        return Folded(text.lower(), len(text))
    if "\u0130" not in text and unicodedata.is_normalized("NFKC", text):
        return Folded(_letters(text.lower()), len(text))
    stretches = _stretches()
    parts: list[str] = []
    moves: list[tuple[int, int, int, int]] = []
    shift = 0  # folded offset minus the original's, after what is normalised so far
    begin = 0
    while begin < len(text):
        # A block ends before an ASCII character: nothing there joins what precedes it.
        ascii_at = _ASCII.search(text, begin + _BLOCK)
        end = ascii_at.start() if ascii_at is not None else len(text)
        block = text[begin:end]
        if "\u0130" not in block and unicodedata.is_normalized("NFKC", block):
            parts.append(block)
        else:
            try:  # most often each stretch keeps its length, character for character
                parts.append(stretches.sub(_in_place, block))
            except _Moves:
                shift = _normalise_block(block, begin, shift, parts, moves)
        begin = end
    return Folded(_letters("".join(parts).lower()), len(text), moves)


def _normalise_block(block: str, begin: int, shift: int, parts: list[str],
                     moves: list[tuple[int, int, int, int]]) -> int:
    """Add ``block`` (at ``begin`` in a text, where the folded offset is the original's plus
    ``shift``) normalised to ``parts``, and the pieces it does not keep character for
    character to ``moves``; return the shift after it."""
    done = 0
    for match in _stretches().finditer(block):
        start, stop = match.span()
        if start > done and _joins(block[start]):
            start -= 1  # an accent or a vowel joins the character before it
        if start > done:
            parts.append(block[done:start])
        stretch = block[start:stop]
        normal, pieces = (_normalised(stretch) if len(stretch) <= _CACHED_STRETCH
                          else _normalise(stretch))
        parts.append(normal)
        if pieces:
            at = begin + start
            for offset, raw_length, into, length in pieces:
                moves.append((at + shift + into, length, at + offset, raw_length))
            shift += len(normal) - len(stretch)
        done = stop
    parts.append(block[done:])
    return shift


class _Moves(Exception):
    """A stretch is not kept character for character, or joins the character before it."""


def _in_place(match: re.Match[str]) -> str:
    """The stretch normalised if that keeps it in place (else :class:`_Moves`)."""
    stretch = match.group()
    normal = (_kept(stretch) if len(stretch) <= _CACHED_STRETCH
              else _keeps(stretch))
    if normal is None:
        raise _Moves
    return normal


def _keeps(stretch: str) -> str | None:
    """``stretch`` normalised if that keeps each character in place, else ``None``."""
    normal, pieces = (_normalised(stretch) if len(stretch) <= _CACHED_STRETCH
                      else _normalise(stretch))
    return None if pieces or _joins(stretch[0]) else normal


#: :func:`folded` looks at a text that NFKC changes in blocks of about this many
#: characters, and normalises stretches in those NFKC changes only.
_BLOCK = 256
_ASCII = re.compile("[\x00-\x7f]")


def _letters(text: str) -> str:
    """``text`` (NFKC, lower case) with :func:`fold`'s folding of Latin letters and sigma."""
    table, foldable = _table()
    return foldable.sub(lambda match: table[match.group()], text)


@functools.cache
def _table() -> tuple[dict[str, str], re.Pattern[str]]:
    """:func:`fold`'s table after NFKC: a Latin letter with one diacritic → the letter (as
    FTS5's ``remove_diacritics 1``: "é" → "e", not "ǖ" of two), final sigma → sigma; and a
    regular expression for a character it changes."""
    table = {"\u03c2": "\u03c3"}
    for point in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        parts = unicodedata.normalize("NFD", chr(point))
        if (len(parts) == 2 and parts[0].isascii() and parts[0].isalpha()
                and unicodedata.combining(parts[1])):
            table[chr(point)] = parts[0]
    return table, re.compile(f"[{_ranges(sorted(table))}]")


@functools.cache
def _stretches() -> re.Pattern[str]:
    """Where NFKC (or lower case) may change a text: runs of the characters it changes and
    of those that may join the character before them (combining marks, Hangul vowels and
    finals). Made on first use (about a hundredth of a second), for the texts that need it."""
    changing = [char for first, end in _BLOCKS for char in map(chr, range(first, end))
                if not unicodedata.is_normalized("NFKC", char) or _joining(char)
                or len(char.lower()) != 1]
    # Every character past the BMP (emoji, mostly) is taken as changing: a class that names
    # only some of them is checked range by range, slower on every text.
    return re.compile(f"[{_ranges(changing)}\U00010000-\U0010ffff]+")


#: The code points of the BMP that NFKC may change or that may join the one before, as
#: ranges: all but the CJK ideographs, Hangul syllables, surrogates and private use (which
#: neither change nor join).
_BLOCKS = ((0x80, 0x3400), (0x4DC0, 0x4E00), (0xA000, 0xAC00), (0xD7A4, 0xD800),
           (0xF900, 0x10000))


def _may_join(char: str) -> bool:
    """Whether ``char`` may join the character before it in NFKC: a combining mark, a
    Hangul vowel or final, or a character that normalises to one ("ﾞ", the voiced sound
    mark)."""
    return _joining(char) or (not unicodedata.is_normalized("NFKC", char)
                              and _joining(unicodedata.normalize("NFKD", char)[0]))


def _joining(char: str) -> bool:
    return unicodedata.category(char)[0] == "M" or "\u1160" <= char <= "\u11ff"


def _ranges(chars: list[str]) -> str:
    """A regular expression's character class body for ``chars`` (in code point order)."""
    out: list[str] = []
    first = last = None
    for char in [*chars, None]:
        if char is not None and last is not None and ord(char) == ord(last) + 1:
            last = char
            continue
        if first is not None and last is not None:
            out.append(re.escape(first) if first == last
                       else f"{re.escape(first)}-{re.escape(last)}")
        first = last = char
    return "".join(out)


def _normalise(stretch: str) -> tuple[str, tuple[tuple[int, int, int, int], ...]]:
    """NFKC of ``stretch`` in lower case, and the pieces that do not stay character for
    character, as (offset in ``stretch``, length, offset normalised, length normalised): a
    piece is a character with what joins it ("e" and U+0301 is one), or the whole stretch
    when it normalises otherwise than piece by piece."""
    normal = unicodedata.normalize("NFKC", stretch).lower()
    pieces: list[tuple[int, int, int, int]] = []
    at = begin = 0
    for offset in range(1, len(stretch) + 1):
        if offset == len(stretch) or not _joins(stretch[offset]):
            raw = stretch[begin:offset]
            piece = unicodedata.normalize("NFKC", raw).lower()
            if normal[at:at + len(piece)] != piece:
                break
            if piece != raw and (len(piece) != 1 or len(raw) != 1):
                pieces.append((begin, len(raw), at, len(piece)))
            at += len(piece)
            begin = offset
    else:
        if at == len(normal):
            return normal, tuple(pieces)
    return normal, ((0, len(stretch), 0, len(normal)),)


#: Stretches of up to this many characters (a full-width word, a punctuation mark) have
#: their normal form kept, so that a text full of them is normalised quickly.
_CACHED_STRETCH = 16
_normalised = functools.lru_cache(maxsize=4096)(_normalise)
_joins = functools.lru_cache(maxsize=4096)(_may_join)
_kept = functools.lru_cache(maxsize=4096)(_keeps)
