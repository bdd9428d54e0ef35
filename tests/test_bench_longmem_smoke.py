"""Smoke test of benchmarks/longmem.py on a tiny LoCoMo-shaped file, lexical search only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _turn(speaker: str, dia_id: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text}


FILLER = "we talked about the weather for a while and then about nothing much at all"

CONVERSATION: dict[str, Any] = {
    "speaker_a": "Ann",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        _turn("Ann", "D1:1", "I bought a zebra figurine yesterday."),
        _turn("Ann", "D1:2", "It stands on my desk."),
        _turn("Ben", "D1:3", FILLER),
        _turn("Ann", "D1:4", FILLER),
        _turn("Ben", "D1:5", "My violin teacher moved to Porto."),
        _turn("Ann", "D1:6", "Short."),
    ],
    "session_2_date_time": "10:05 am on 2 June, 2023",
    "session_2": [
        _turn("Ben", "D2:1", "We hiked the volcano trail at dawn."),
        _turn("Ann", "D2:2", FILLER),
    ],
}


def _qa(question: str, evidence: list[str], category: int) -> dict[str, Any]:
    return {"question": question, "answer": "-", "evidence": evidence, "category": category}


QA = [
    _qa("Which zebra figurine?", ["D1:1", "D1:2"], 4),     # both in m1: one evidence message
    _qa("Whose violin teacher?", ["D1:5"], 1),
    _qa("Which volcano trail?", ["D2:1"], 2),
    _qa("Quantum chromodynamics?", ["D1:3"], 3),           # no match: 0
]


@pytest.fixture(scope="module")
def longmem() -> ModuleType:
    from benchmarks import longmem

    return longmem


def tiny_locomo(folder: Path) -> Path:
    """A LoCoMo-shaped file of one conversation (:data:`CONVERSATION`, :data:`QA`)."""
    path = folder / "locomo-tiny.json"
    samples = [{"sample_id": "conv-a", "conversation": CONVERSATION, "qa": QA}]
    path.write_text(json.dumps(samples), encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tiny_locomo(tmp_path)


def test_merging_rule() -> None:
    from benchmarks.locomo_data import Session, Turn
    from benchmarks.longmem_data import merge_session

    turns = (Turn("D1:1", "Ann: " + "a" * 40), Turn("D1:2", "Ann: " + "b" * 40),
             Turn("D1:3", "Ben: " + "c" * 40), Turn("D1:4", "Ann: " + "d" * 150),
             Turn("D1:5", "Ben: tail"))
    session = Session("s:session_1", datetime(2023, 1, 1), turns)
    merged = merge_session(session, min_chars=100, max_chars=160)
    # Ann's two turns make one block; Ben's joins it to pass 100 characters; Ann's long turn
    # would pass 160, so it starts a message (already past 100: closed); the short tail
    # cannot join it within 160, so it stays alone.
    assert [ids for _, ids in merged] == [("D1:1", "D1:2", "D1:3"), ("D1:4",), ("D1:5",)]
    assert merged[0][0] == f"Ann: {'a' * 40} {'b' * 40}\nBen: {'c' * 40}"
    merged = merge_session(session, min_chars=100, max_chars=400)
    assert [ids for _, ids in merged] == [("D1:1", "D1:2", "D1:3"), ("D1:4", "D1:5")]


def test_report(longmem: ModuleType, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    report: dict[str, Any] = longmem.main([
        str(data), "--embedder", "none", "--expect-questions", str(len(QA)), "--quiet",
        "--message-min", "100", "--message-max", "400", "--json", str(out),
    ])
    assert json.loads(out.read_text(encoding="utf-8"))["recall"] == report["recall"]
    assert report["dataset"]["messages"] == 3
    by_question = {q["question"]: q for q in report["questions"]}
    assert by_question["Which zebra figurine?"]["evidence"] == ["m1"]
    assert by_question["Which zebra figurine?"]["retrieved"][0] == "m1"
    assert by_question["Whose violin teacher?"]["retrieved"][0] == "m2"
    assert by_question["Which volcano trail?"]["retrieved"][0] == "m3"
    assert report["recall"]["all"]["recall@5"] == pytest.approx(0.75)
    assert report["latency_ms"]["search"]["n"] == len(QA)
    assert report["latency_ms"]["search_during_backlog"]["n"] == 0   # no embedder
    hits = report["hits_per_search"]
    assert hits["limit"] == 10
    assert 0 < hits["mean"] <= 3
    assert report["latency_ms"]["add"]["n"] == 3
