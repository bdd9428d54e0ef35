"""Smoke test of benchmarks/bm25_baseline.py on the long-memory smoke test's tiny file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_bench_longmem_smoke import QA, tiny_locomo


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tiny_locomo(tmp_path)


def test_query_keeps_the_words_that_are_not_stop_words() -> None:
    from benchmarks.bm25_baseline import query_of

    assert query_of("What did Ben's violin teacher do?") == '"ben" OR "violin" OR "teacher"'
    assert query_of("What is it?") is None


@pytest.mark.parametrize("long", [False, True])
def test_report(data: Path, tmp_path: Path, long: bool) -> None:
    from benchmarks import bm25_baseline

    out = tmp_path / "out.json"
    report: dict[str, Any] = bm25_baseline.main([
        str(data), "--expect-questions", str(len(QA)), "--json", str(out),
        *(["--long", "--message-min", "100", "--message-max", "400"] if long else []),
    ])
    assert json.loads(out.read_text(encoding="utf-8"))["recall"] == report["recall"]
    by_question = {q["question"]: q["retrieved"] for q in report["questions"]}
    assert by_question["Which volcano trail?"][0] == ("m3" if long else "D2:1")
    assert by_question["Quantum chromodynamics?"] == []
    # The fourth question matches nothing; per turn, the zebra's second evidence turn shares
    # no word with it.
    assert report["recall"]["all"]["recall@5"] == pytest.approx(0.75 if long else 0.625)
