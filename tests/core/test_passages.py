"""The passage splitter shared by the index, the embedders and the excerpts."""

from __future__ import annotations

import itertools

from memvault.passages import split, token_estimate


def test_short_text_is_one_passage_and_blank_text_none() -> None:
    assert split("I live in Porto.") == [(0, 16)]
    assert split("  padded  ") == [(2, 8)]
    assert split("   ") == []
    assert split("") == []


def test_long_text_is_cut_at_sentences_within_the_window() -> None:
    text = " ".join(f"Sentence {i} is about the topic numbered {i}." for i in range(200))
    spans = split(text, max_tokens=60)
    assert len(spans) > 10
    for start, end in spans:
        assert token_estimate(text[start:end]) <= 60
        assert text[start:end].endswith(".")
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    covered = "".join(text[a:b] for a, b in spans).replace(" ", "")
    assert covered == text.replace(" ", "")


def test_a_sentence_over_the_window_is_cut_between_words() -> None:
    text = " ".join(["word"] * 500)
    spans = split(text, max_tokens=50)
    assert len(spans) > 5
    assert all(text[a:b].split(" ")[-1] == "word" for a, b in spans)


def test_text_without_spaces_is_cut_between_characters() -> None:
    text = "用户咨询二零二五年低风险理财方案" * 50
    spans = split(text, max_tokens=40)
    assert all(token_estimate(text[a:b]) <= 40 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans) == text
