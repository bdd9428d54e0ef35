"""The one stop-word list: words too common to search by or to start a name.

:data:`STOP_WORDS` drives the lexical terms of a query (:func:`memvault.core.text.terms.terms`)
and, with :data:`SENTENCE_OPENERS`, which capitalised words entity extraction drops from the
start of a name (:func:`memvault.core.text.entities.extract_entities`); :data:`OPENING_VERBS`
only decides whether a sentence's capitalised first word can be (part of) a name. Changing
any list changes what search finds: measure it (``docs/benchmarks.md``).
"""

from __future__ import annotations

__all__ = ["OPENING_VERBS", "SENTENCE_OPENERS", "STOP_WORDS"]

#: English function words, lower case, with their contractions and the fragments a split
#: contraction leaves ("s", "t", "ll"...).
STOP_WORDS = frozenset(
    [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an",
        "and", "any", "are", "aren't", "as", "at", "be", "because", "been", "before",
        "being", "below", "between", "both", "but", "by", "can", "could", "couldn't", "d",
        "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during",
        "each", "few", "for", "from", "further", "get", "got", "had", "hadn't", "has",
        "hasn't", "have", "haven't", "having", "he", "he'd", "he'll", "he's", "her",
        "here", "here's", "hers", "herself", "him", "himself", "his", "how", "how's", "i",
        "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's",
        "its", "itself", "just", "let's", "ll", "m", "me", "more", "most", "mustn't", "my",
        "myself", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other",
        "ought", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same",
        "shan't", "she", "she'd", "she'll", "she's", "should", "shouldn't", "so", "some",
        "such", "t", "than", "that", "that's", "the", "their", "theirs", "them",
        "themselves", "then", "there", "there's", "these", "they", "they'd", "they'll",
        "they're", "they've", "this", "those", "through", "to", "too", "under", "until",
        "up", "us", "ve", "very", "was", "wasn't", "we", "we'd", "we'll", "we're", "we've",
        "were", "weren't", "what", "what's", "when", "when's", "where", "where's", "which",
        "while", "who", "who's", "whom", "why", "why's", "will", "with", "won't", "would",
        "wouldn't", "you", "you'd", "you'll", "you're", "you've", "your", "yours",
        "yourself", "yourselves",
    ]
)

#: Words that are often capitalised only because they open a sentence ("Thanks", "Yesterday",
#: "Monday") but are not stop words: a query's "yesterday" or "monday" is worth searching by.
SENTENCE_OPENERS = frozenset(
    [
        "actually", "although", "anyway", "awesome", "cool", "definitely", "even", "every",
        "friday", "good", "great", "hello", "hey", "hi", "however", "last", "let", "like",
        "maybe", "monday", "next", "nice", "now", "oh", "ok", "okay", "one", "really",
        "saturday", "since", "sounds", "still", "sunday", "sure", "thank", "thanks",
        "though", "thursday", "today", "tomorrow", "tuesday", "um", "wednesday", "well",
        "wow", "yeah", "yes", "yesterday", "yet",
    ]
)

#: Common verbs and verb-like words that open a note or an instruction ("Booked Lisbon
#: flight", "Remember Anna's birthday", "Fix Redis config"): capitalised there because they
#: start the sentence, never (part of) a name. Past tenses and "-ing" forms not listed here are
#: recognised by their ending (:func:`memvault.core.text.entities.extract_entities`).
OPENING_VERBS = frozenset(
    [
        "add", "ask", "asked", "ate", "became", "been", "bought", "book", "bring", "brought",
        "buy", "call", "came", "cancel", "check", "come", "drove", "eat", "find", "fix",
        "flew", "found", "gave", "give", "go", "going", "gone", "hate", "hates", "heard",
        "keep", "kept", "knew", "know", "left", "love", "loves", "made", "make", "meet",
        "met", "move", "need", "needs", "paid", "pay", "pick", "plan", "please", "put",
        "ran", "read", "remember", "remind", "said", "saw", "say", "see", "send", "sent",
        "set", "spent", "start", "stop", "take", "talk", "tell", "think", "thought", "told",
        "took", "try", "use", "visit", "want", "wants", "went", "woke", "wore", "write",
        "wrote",
    ]
)
