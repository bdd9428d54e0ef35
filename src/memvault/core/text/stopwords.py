"""The one stop-word list: words too common to search by or to start a name.

:data:`STOP_WORDS` drives the lexical terms of a query (:func:`memvault.core.text.terms.terms`)
and, with :data:`SENTENCE_OPENERS`, which capitalised words entity extraction drops from the
start of a name (:func:`memvault.core.text.entities.extract_entities`); :data:`OPENING_VERBS`
only decides whether a sentence's capitalised first word can be (part of) a name. Changing
any list changes what search finds: measure it (``docs/benchmarks.md``).

Chinese, Japanese and Korean have stop words too. Their function characters (的, 了, 是,
の, は ...) already cut a run of characters before it becomes bigrams
(:data:`memvault.analysis.CJK_BREAKS`), so what is left for this list are the tokens that
analysis makes of pronouns, question words and auxiliaries: single characters (我, 谁, 何)
and bigrams (什么, 哪里, です, 무엇), listed in :data:`CJK_STOP_WORDS` and part of
:data:`STOP_WORDS`. As with English, they are left out of what a query asks for, never out
of what is indexed.
"""

from __future__ import annotations

__all__ = ["CJK_STOP_WORDS", "OPENING_VERBS", "SENTENCE_OPENERS", "STOP_WORDS"]

#: Tokens of Chinese, Japanese and Korean function words, as :func:`memvault.analysis.tokens`
#: makes them: pronouns, question words, auxiliaries.
CJK_STOP_WORDS = frozenset(
    [
        # Chinese: pronouns, question words, a few particles that do not cut a run
        "我", "你", "您", "他", "她", "它", "谁", "啥", "哪", "吗", "呢", "吧", "啊", "么",
        "我们", "你们", "他们", "她们", "它们", "咱们", "自己", "什么", "怎么", "怎样",
        "为什么", "为什", "哪里", "哪儿", "哪个", "哪些", "这个", "那个", "这些", "那些", "这里",
        "那里", "如何", "有没", "没有", "是否", "可以", "一下", "关于",
        # Japanese: pronouns, question words, polite and past endings
        "私", "僕", "俺", "彼", "何", "誰", "あなた", "なに", "どこ", "いつ", "どう",
        "これ", "それ", "あれ", "です", "でし", "ます", "まし", "した", "して", "ない",
        "あな", "なた",
        # Korean: pronouns and question words (words are spaced, then bigrams)
        "나", "너", "저", "우리", "무엇", "누구", "어디", "언제", "어떻", "떻게", "왜",
        "나는", "저는", "제가", "내가",
    ]
)

#: English function words, lower case, with their contractions and the fragments a split
#: contraction leaves ("s", "t", "ll"...), and :data:`CJK_STOP_WORDS`.
STOP_WORDS = CJK_STOP_WORDS | frozenset(
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
