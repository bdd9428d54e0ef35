"""Smoke test of benchmarks/locomo.py on a tiny LoCoMo-shaped file, lexical search only.

The data is built so that every recall is known: the questions' words occur only in the turns
named below, and search without an embedder returns only turns sharing a word with the query
and their neighbours in the same session.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

APPLES = [f"Ben: apple pie recipe number {n}" for n in range(1, 9)]

CONV_A: dict[str, Any] = {
    "speaker_a": "Ann",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ann", "dia_id": "D1:1", "text": "I bought a zebra figurine yesterday."},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "That sounds lovely."},
        {"speaker": "Ann", "dia_id": "D1:3", "text": "Look at this.",
         "img_url": ["https://example.invalid/cat.jpg"], "query": "cat",
         "blip_caption": "a photo of a marmalade cat"},
    ],
    "session_2_date_time": "10:05 am on 2 June, 2023",
    "session_2": [
        {"speaker": "Ben", "dia_id": f"D2:{n}", "text": text.removeprefix("Ben: ")}
        for n, text in enumerate(APPLES, start=1)
    ],
    # A date without turns, as in some LoCoMo samples: skipped.
    "session_3_date_time": "9:00 am on 3 July, 2023",
    "session_3": [],
    "session_4_date_time": "9:00 am on 4 July, 2023",
}

CONV_B: dict[str, Any] = {
    "speaker_a": "Cy",
    "speaker_b": "Dee",
    "session_1_date_time": "7:30 pm on 1 March, 2023",
    "session_1": [
        {"speaker": "Cy", "dia_id": "D1:1", "text": "I play the violin every evening."},
        {"speaker": "Dee", "dia_id": "D1:2", "text": "My garden has tomatoes."},
    ],
    "session_2_date_time": "11:15 am on 20 March, 2023",
    "session_2": [
        {"speaker": "Cy", "dia_id": "D2:1", "text": "We hiked the volcano trail."},
        {"speaker": "Dee", "dia_id": "D2:2", "text": "Nice."},
    ],
}


def _qa(question: str, evidence: list[str], category: int) -> dict[str, Any]:
    return {"question": question, "answer": "-", "evidence": evidence, "category": category}


QA_A = [
    _qa("Which zebra figurine?", ["D1:1"], 4),                                   # 1, 1
    _qa("What was the marmalade cat?", ["D1:3 D2:09"], 1),                       # D2:9: none
    _qa("What apple pie recipes?",                                               # 5/8, 8/8
        ["D2:1", "D2:02", "D2:3; D2:4", "D2:5 D2:6", "D2:7", "D:2:8"], 2),
    _qa("Quantum chromodynamics?", ["D1:2"], 3),                                 # 0, 0
    _qa("Nothing valid here?", ["D"], 4),                                        # not scored
    _qa("Zebra figurine adversarial?", ["D1:1"], 5),                             # not scored
    _qa("When was the zebra figurine bought?", ["D1:1", "D7:1"], 2),             # 1, 1
]

QA_B = [
    _qa("Who plays the violin?", ["D1:1"], 1),                                   # 1, 1
    _qa("Where is the zebra figurine?", ["D1:1"], 4),     # only conv-a has it: 0, 0
    _qa("Which volcano trail?", ["D2:1"], 2),                                    # 1, 1
    _qa("Tomatoes in the garden?", ["D1:1"], 3),          # the turn before the match: 1, 1
]

QUESTIONS = 9


@pytest.fixture(scope="module")
def locomo() -> ModuleType:
    from benchmarks import locomo

    return locomo


@pytest.fixture(scope="module")
def locomo_data() -> ModuleType:
    from benchmarks import locomo_data

    return locomo_data


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "locomo-tiny.json"
    samples = [
        {"sample_id": "conv-a", "conversation": CONV_A, "qa": QA_A},
        {"sample_id": "conv-b", "conversation": CONV_B, "qa": QA_B},
    ]
    path.write_text(json.dumps(samples), encoding="utf-8")
    return path


def _run(locomo: ModuleType, data: Path, out: Path, *extra: str) -> dict[str, Any]:
    argv = [str(data), "--embedder", "none", "--expect-questions", str(QUESTIONS),
            "--quiet", "--json", str(out), *extra]
    report: dict[str, Any] = locomo.main(argv)
    assert json.loads(out.read_text(encoding="utf-8"))["recall"] == report["recall"]
    return report


def _recalls(report: dict[str, Any]) -> dict[str, float]:
    """``{"all n": 9, "all @5": 0.625, "all @10": 0.67, "1 n": ...}`` from the report."""
    flat: dict[str, float] = {}
    for key, row in report["recall"].items():
        flat |= {f"{key} n": row["n"], f"{key} @5": row["recall@5"],
                 f"{key} @10": row["recall@10"]}
    return flat


def _expect(**rows: tuple[int, float, float]) -> dict[str, float]:
    """``_expect(all=(9, 0.625, 0.67))`` in the shape of :func:`_recalls`."""
    flat: dict[str, float] = {}
    for key, (n, at5, at10) in rows.items():
        name = key.removeprefix("c")
        flat |= {f"{name} n": n, f"{name} @5": at5, f"{name} @10": at10}
    return flat


# Per question (recall@5, recall@10): conv-a 1,1 / 1,1 / 5/8,1 / 0,0 / 1,1; conv-b 1,1 / 0,0 /
# 1,1 / 1,1.
EXPECTED = _expect(
    c1=(2, 1.0, 1.0),
    c2=(3, (0.625 + 1 + 1) / 3, 1.0),
    c3=(2, 0.5, 0.5),
    c4=(2, 0.5, 0.5),
    all=(9, 6.625 / 9, 7 / 9),
)


def test_evidence_normalisation(locomo_data: ModuleType) -> None:
    existing = {"D8:6", "D9:17", "D11:26", "D30:5", "D9:1", "D4:4"}
    raw = ["D8:6; D9:17", "D:11:26", "D30:05", "D", "D9:1 D4:4 D4:6", ""]
    assert locomo_data.normalise_evidence(raw, existing) == existing


def test_loading_skips_empty_sessions(locomo_data: ModuleType, data: Path) -> None:
    dataset = locomo_data.load_dataset(data)
    conv_a = dataset.conversations[0]
    assert [s.session_id for s in conv_a.sessions] == ["conv-a:session_1", "conv-a:session_2"]
    assert conv_a.sessions[0].occurred_at.isoformat() == "2023-05-08T13:56:00"
    assert conv_a.sessions[0].turns[2].content == (
        "Ann: Look at this. [shares a photo of a marmalade cat]")
    assert len(dataset.questions) == QUESTIONS
    assert (dataset.without_evidence, dataset.adversarial) == (1, 1)


def test_recall_per_turn(locomo: ModuleType, data: Path, tmp_path: Path) -> None:
    report = _run(locomo, data, tmp_path / "out.json")
    assert _recalls(report) == pytest.approx(EXPECTED)
    assert report["ceiling"] == pytest.approx({"5": 8.625 / 9, "10": 1.0})
    assert report["settings"]["embedder"] == "none"
    assert report["dataset"]["turns"] == 15
    assert report["latency_ms"]["add"]["n"] == 15
    assert report["latency_ms"]["search"]["n"] == QUESTIONS
    assert report["searches"]["retrievers"] == {"lexical": QUESTIONS}
    for key in ("cpu", "cores", "ram_gib", "python", "memvault"):
        assert report["machine"][key]


def test_context_turns_count_towards_k(locomo: ModuleType, data: Path, tmp_path: Path) -> None:
    report = _run(locomo, data, tmp_path / "out.json", "--context", "1")
    assert _recalls(report) == pytest.approx(EXPECTED)
    tomatoes = next(q for q in report["questions"] if q["question"].startswith("Tomatoes"))
    # The match carries its neighbour first (reading order); the neighbour is also a hit of
    # its own, after the match, and counts once.
    assert tomatoes["retrieved"] == [["conv-b", "D1:1"], ["conv-b", "D1:2"]]
    plain = _run(locomo, data, tmp_path / "plain.json")
    tomatoes = next(q for q in plain["questions"] if q["question"].startswith("Tomatoes"))
    assert tomatoes["retrieved"] == [["conv-b", "D1:2"], ["conv-b", "D1:1"]]


def test_pooled_batch_keys_by_conversation(
    locomo: ModuleType, data: Path, tmp_path: Path
) -> None:
    report = _run(locomo, data, tmp_path / "out.json", "--pooled", "--batch")
    # conv-b's zebra question finds conv-a's D1:1, which is not conv-b's D1:1: still a miss.
    assert _recalls(report) == pytest.approx(EXPECTED)
    zebra = next(q for q in report["questions"] if q["question"].startswith("Where is"))
    assert zebra["retrieved"] == [["conv-a", "D1:1"], ["conv-a", "D1:2"]]
    assert report["settings"]["scope"] == "pooled"
    add = report["latency_ms"]["add"]
    assert (add["unit"], add["n"]) == ("session", 4)


def test_wrong_question_count_stops(locomo: ModuleType, data: Path) -> None:
    with pytest.raises(SystemExit, match="expected 1536 questions"):
        locomo.main([str(data), "--embedder", "none", "--quiet"])
