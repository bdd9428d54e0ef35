"""The scale benchmark's text: a Zipf-distributed vocabulary and a stream of conversation turns.

Deterministic for a given seed, count and batch size: a vocabulary
of 5,000 words, whose first ~110 ranks are common English function and conversational words
("the", "i", "and", ..., "like", "really", "think") and the rest pronounceable pseudo-words
built from 1-4 consonant-vowel syllables and an optional final consonant ("tralen",
"voustik"), drawn with Zipf probabilities p(rank) ∝ 1/rank
(exponent 1.0). A memory is one sentence of 8-30 such words (uniform length), the first word
capitalised, ending in "." (or "?" one time in ten). 30% of memories contain one capitalised
name and a further 10% two (names: 300 capitalised pseudo-words, also Zipf-distributed),
each replacing a word at a random position. Memories form sessions of 10-30 turns (uniform,
mean 20) with ``session_id`` ``session-0000001``...; ``occurred_at`` starts at
2021-01-01T00:00Z and increases by 15-180 s between turns and by an exponential gap (mean 1
hour) between sessions.

No pseudo-word is one of the reserved words the caller gives (the search engine's stop
words), so that every pseudo-word is a search term.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["CORPUS_TEXT", "Conversations", "Corpus", "Turn"]

VOCABULARY = 5_000
NAMES = 300
ZIPF_EXPONENT = 1.0
WORDS_PER_MEMORY = (8, 30)
TURNS_PER_SESSION = (10, 30)
TURN_GAP_SECONDS = (15, 180)
SESSION_GAP_MEAN_SECONDS = 3600.0
START = datetime(2021, 1, 1, tzinfo=UTC)
ONE_NAME, TWO_NAMES, QUESTION = 0.30, 0.10, 0.10

CORPUS_TEXT = (
    "one sentence per memory, 8-30 words (uniform) drawn from a 5,000-word vocabulary with "
    "Zipf probabilities 1/rank (ranks 1-~110 common English words, the rest pseudo-words); "
    "30% of memories hold one capitalised name, 10% two (300 pseudo-names, Zipf); first word "
    "capitalised, ends in '.' or '?' (10%); sessions of 10-30 turns, occurred_at increasing "
    "15-180 s per turn and ~1 h (exponential) per session"
)
"""The module docstring in one line, for reports."""


#: The most frequent ranks of the vocabulary, in (roughly) conversational frequency order.
COMMON_WORDS = [
    "the", "i", "and", "to", "a", "you", "it", "of", "that", "in", "is", "my", "was", "for",
    "so", "we", "on", "have", "but", "it's", "with", "me", "just", "this", "be", "i'm",
    "like", "at", "they", "are", "not", "do", "what", "really", "all", "about", "your",
    "yeah", "know", "one", "think", "can", "if", "out", "there", "get", "time", "from",
    "would", "going", "go", "when", "been", "had", "more", "some", "good", "great", "up",
    "our", "now", "how", "then", "also", "very", "much", "them", "were", "did", "an", "or",
    "by", "as", "because", "too", "want", "people", "day", "love", "new", "see", "way",
    "make", "lot", "thing", "things", "fun", "well", "oh", "he", "she", "her", "his",
    "will", "could", "should", "last", "week", "year", "home", "work", "friends", "family",
    "feel", "still", "even", "back", "take", "pretty", "always", "never",
]

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
           "z", "br", "cr", "dr", "fl", "gr", "pl", "st", "tr", "sh", "ch", "th", "qu"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou", "y"]
_CODAS = ["", "", "n", "r", "l", "s", "t", "m", "k", "nd", "st", "x", "ng"]


def _pseudo_words(rng: np.random.Generator, count: int, syllables: tuple[int, int],
                  taken: set[str], reserved: Collection[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        n = int(rng.integers(syllables[0], syllables[1] + 1))
        parts = [
            _ONSETS[int(rng.integers(len(_ONSETS)))] + _VOWELS[int(rng.integers(len(_VOWELS)))]
            for _ in range(n)
        ]
        word = "".join(parts) + _CODAS[int(rng.integers(len(_CODAS)))]
        if len(word) >= 3 and word not in taken and word not in reserved:
            taken.add(word)
            words.append(word)
    return words


def _zipf_cdf(size: int) -> npt.NDArray[np.float64]:
    weights = np.arange(1, size + 1, dtype=np.float64) ** -ZIPF_EXPONENT
    cdf: npt.NDArray[np.float64] = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


class Corpus:
    """The vocabulary, the names and their Zipf distributions (see the module docstring).

    No pseudo-word or name is in ``reserved``.
    """

    def __init__(self, seed: int, reserved: Collection[str]) -> None:
        rng = np.random.default_rng([seed, 0])
        common = list(dict.fromkeys(COMMON_WORDS))
        taken = set(common)
        self.words = common + _pseudo_words(rng, VOCABULARY - len(common), (1, 4), taken,
                                            reserved)
        self.names = [w.capitalize() for w in _pseudo_words(rng, NAMES, (2, 2), taken, reserved)]
        self._word_cdf = _zipf_cdf(len(self.words))
        self._name_cdf = _zipf_cdf(len(self.names))

    def _draw(self, rng: np.random.Generator, cdf: npt.NDArray[np.float64], count: int
              ) -> npt.NDArray[np.intp]:
        picks: npt.NDArray[np.intp] = np.searchsorted(cdf, rng.random(count), side="right")
        clipped: npt.NDArray[np.intp] = np.minimum(picks, cdf.shape[0] - 1)
        return clipped

    def word_lists(self, rng: np.random.Generator, lengths: Sequence[int]) -> list[list[str]]:
        """Lists of words drawn with the Zipf distribution, names put in at random places."""
        count = len(lengths)
        picks = self._draw(rng, self._word_cdf, int(sum(lengths))).tolist()
        rolls = rng.random(count).tolist()
        names = self._draw(rng, self._name_cdf, 2 * count).tolist()
        places = rng.random(2 * count).tolist()
        lists: list[list[str]] = []
        offset = 0
        for j, length in enumerate(lengths):
            words = [self.words[i] for i in picks[offset:offset + length]]
            offset += length
            how_many = 2 if rolls[j] < TWO_NAMES else 1 if rolls[j] < TWO_NAMES + ONE_NAME else 0
            for k in range(how_many):
                words[int(places[2 * j + k] * length)] = self.names[names[2 * j + k]]
            lists.append(words)
        return lists

    def sentences(self, rng: np.random.Generator, count: int) -> list[str]:
        lengths = rng.integers(WORDS_PER_MEMORY[0], WORDS_PER_MEMORY[1] + 1, size=count).tolist()
        endings = rng.random(count).tolist()
        out: list[str] = []
        for words, ending in zip(self.word_lists(rng, lengths), endings, strict=True):
            first = words[0]
            words[0] = first[0].upper() + first[1:]
            out.append(" ".join(words) + ("?" if ending < QUESTION else "."))
        return out


@dataclass(frozen=True)
class Turn:
    content: str
    session_id: str
    occurred_at: datetime


class Conversations:
    """The stream of turns: sessions of 10-30 turns with increasing timestamps."""

    def __init__(self, corpus: Corpus, seed: int) -> None:
        self.corpus = corpus
        self.rng = np.random.default_rng([seed, 1])
        self.sessions = 0
        self.produced = 0
        self._left = 0
        self._clock = START

    def take(self, count: int) -> list[Turn]:
        texts = self.corpus.sentences(self.rng, count)
        turns: list[Turn] = []
        for text in texts:
            if self._left == 0:
                self.sessions += 1
                self._left = int(self.rng.integers(TURNS_PER_SESSION[0],
                                                   TURNS_PER_SESSION[1] + 1))
                if self.produced or turns:
                    gap = float(self.rng.exponential(SESSION_GAP_MEAN_SECONDS))
                    self._clock += timedelta(seconds=gap)
            else:
                self._clock += timedelta(seconds=int(self.rng.integers(
                    TURN_GAP_SECONDS[0], TURN_GAP_SECONDS[1] + 1)))
            self._left -= 1
            turns.append(Turn(text, f"session-{self.sessions:07d}", self._clock))
        self.produced += count
        return turns

