"""Full-text analysis across scripts: the same tokens for what is stored and what is asked."""

from __future__ import annotations

import pytest

from memvault.analysis import tokens


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
