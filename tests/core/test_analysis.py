"""Full-text analysis across scripts: the same tokens for what is stored and what is asked."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.analysis import fold, folded, joined, tokens
from memvault.stores.sqlite.lexical import TOKENIZE


@pytest.mark.parametrize(("text", "expected"), [
    ("用户咨询2025年低风险理财方案",
     ["用户", "户咨", "咨询", *"用户咨询", "2025",
      "年低", "低风", "风险", "险理", "理财", "财方", "方案", *"年低风险理财方案"]),
    ("我的朋友彼得是蜘蛛侠",
     ["我", "朋友", "友彼", "彼得", *"朋友彼得", "蜘蛛", "蛛侠", *"蜘蛛侠"]),
    ("分析员Alice经常处理",
     ["分析", "析员", *"分析员", "alice", "经常", "常处", "处理", *"经常处理"]),
    ("한국어 텍스트", ["한국", "국어", *"한국어", "텍스", "스트", *"텍스트"]),
    ("Ｃｏｂａｌｔ　Ｓｔｒｉｋｅ ２０２５", ["cobalt", "strike", "2025"]),
    ("Caroline's friend don't", ["caroline", "friend", "don't"]),
])
def test_scripts_are_segmented_and_normalised(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected
    assert tokens(text, query=True) == expected


@pytest.mark.parametrize("whole", [
    "10.120.8.21", "192.168.0.1:8080", "10.0.0.0/8", "cve-2024-3400", "v1.2.3",
    "/var/log/auth.log", "c:\\windows\\evil.exe", "admin@corp.com", "beacon.dll",
    "https://evil.example.com/x?a=1", "src/app/main.py", "d41d8cd98f00b204e9800998ecf8427e",
])
def test_indicators_stay_whole_tokens(whole: str) -> None:
    text = f"服务器{whole}的可疑行为 and {whole.upper() if whole.isascii() else whole}."
    asked = tokens(text, query=True)
    assert asked.count(whole) == 2
    indexed = tokens(text)
    assert indexed.count(whole) == 2


def test_an_indexed_indicator_is_found_by_its_parts_but_a_query_keeps_it_whole() -> None:
    assert "auth" in tokens("see /var/log/auth.log")
    assert tokens("/var/log/auth.log", query=True) == ["/var/log/auth.log"]


def test_a_query_shares_the_stored_text_s_tokens() -> None:
    analyst = "分析员Alice经常处理Cobalt Strike入侵事件，关注关键服务器10.120.8.21的可疑行为"
    stored = set(tokens(analyst))
    for query in ("Cobalt Strike", "10.120.8.21", "可疑行为", "Alice"):
        assert set(tokens(query, query=True)) <= stored, query
    assert set(tokens("低风险理财", query=True)) <= set(tokens("用户咨询2025年低风险理财方案"))


@pytest.mark.parametrize(("text", "expected"), [
    ("Project Ｃｏｂａｌｔ launched", "project cobalt launched"),
    ("ﬁnance ﬂow", "finance flow"),
    ("cafe\u0301 CAFÉ café", "cafe cafe cafe"),
    ("Ñandú Øresund straße", "nandu øresund straße"),  # one diacritic only, as FTS5 folds
    ("ǖ ΛΌΓΟΣ", "ǖ λόγοσ"),
    ("ｶﾀｶﾅ ｶﾞ ① ㎏…", "カタカナ ガ 1 kg..."),
])
def test_fold_is_what_the_index_compares(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert folded(text).text == expected


def test_fold_folds_latin_letters_as_the_index_s_tokenizer_does() -> None:
    letters = [chr(p) for p in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))
               if chr(p).isalpha()]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5 (content, tokenize=\"{TOKENIZE}\")")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
    conn.executemany("INSERT INTO t (rowid, content) VALUES (?, ?)",
                     [(i, joined(f"q{c}q")) for i, c in enumerate(letters)])
    indexed: dict[int, list[str]] = {}
    for doc, term in conn.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
        indexed.setdefault(doc, []).append(term)
    assert {c: fold(joined(f"q{c}q")).split() for c in letters} == {
        c: indexed[i] for i, c in enumerate(letters)}


@pytest.mark.parametrize(("text", "word", "raw"), [
    ("Project Ｃｏｂａｌｔ launched", "cobalt", "Ｃｏｂａｌｔ"),
    ("the ﬁnance ﬁgures", "figures", "ﬁgures"),
    ("au cafe\u0301 noir", "cafe", "cafe\u0301"),
    ("① ② ③ ㎏ next", "next", "next"),
    ("…" * 300 + " ﬁ target", "target", "target"),  # past the first block
    ("语言ｶﾞ，测试Ｃｏｂａｌｔ。", "cobalt", "Ｃｏｂａｌｔ"),
])
def test_folded_offsets_lead_back_to_the_text(text: str, word: str, raw: str) -> None:
    normal = folded(text)
    at = normal.text.index(word)
    assert text[normal.start(at):normal.end(at + len(word))] == raw


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=st.sampled_from(
    [*"aeiq ,.Ｃｏｂａｌｔ　，ﬁﬂéÉİΣςｶﾞﾟカ가①㎏…語", "\u0301", "\u0302", "\u0323", "\u1100",
     "\u1161", "\u11a8", "\u3131", "\u314f", "\u0b47", "\u0b3e", "\ud800", "😀", "\ufe0f"])
    | st.characters(), max_size=40))
def test_folded_is_fold_with_offsets_in_order(text: str) -> None:
    normal = folded(text)
    assert normal.text == fold(text)
    last = 0
    for at in range(len(normal.text)):
        start, end = normal.start(at), normal.end(at + 1)
        assert last <= start < end <= len(text)
        last = start
