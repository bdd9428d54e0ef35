"""Lexical reach by script, the vector stand-in, the recency floor and e5's script centres."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from memvault.core.search.fusion import fuse, stand_in
from memvault.core.search.recency import ORDER_SHARE, adjust, time_scope
from memvault.core.search.scripts import classes, unreached
from memvault.embedders.e5_centres import REFERENCE, SCRIPTS, Centres, script
from memvault.models import Candidate, Memory

_WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _memory(memory_id: str, content: str, when: datetime = _WHEN) -> Memory:
    return Memory(id=memory_id, user_id="u", content=content, occurred_at=when,
                  created_at=when)


@pytest.mark.parametrize(("text", "found"), [
    ("I started learning the piano.", {"spaced"}),
    ("我女儿今年九月开始上小学", {"cjk"}),
    ("我的车是特斯拉Model 3", {"cjk", "spaced"}),
    ("截止日期是12月20日", {"cjk", "spaced"}),
    ("。！", set()),
])
def test_script_classes_of_a_text(text: str, found: set[str]) -> None:
    assert classes(text) == found


def test_memories_a_querys_words_cannot_reach() -> None:
    memories = {"en": _memory("en", "We adopted a grey cat named Luna."),
                "zh": _memory("zh", "我养了一只叫豆豆的柯基犬"),
                "mixed": _memory("mixed", "分析员Alice经常处理Cobalt Strike入侵事件")}
    assert unreached(["领养", "猫"], memories) == {"en"}
    assert unreached(["cat", "adopted"], memories) == {"zh"}
    assert unreached(["cobalt", "入侵"], memories) == set()
    assert unreached([], memories) == set()


def test_the_vector_score_stands_in_for_the_lexical_one() -> None:
    lexical = [Candidate(memory_id="zh", score=3.0)]
    vector = [Candidate(memory_id="en", score=0.4), Candidate(memory_id="zh", score=0.2)]
    fused = fuse([lexical, vector], pool=50)
    assert fused == {"zh": pytest.approx(1.5), "en": pytest.approx(1.0)}
    assert stand_in(fused, vector, {"en"}, pool=50) == {
        "zh": pytest.approx(1.5), "en": pytest.approx(2.0)}
    assert stand_in(fused, vector, set(), pool=50) == fused


def test_contenders_are_measured_from_the_weakest_candidate() -> None:
    # Eleven candidates between 1.8 and 2.0: shares of the best would make all of them
    # contenders and the newest would win; measured from the weakest only the top two contend.
    ranked = [(_memory("best", "x", datetime(2023, 1, 1, tzinfo=UTC)), 2.0),
              (_memory("close", "x", datetime(2023, 6, 1, tzinfo=UTC)), 1.98)]
    ranked += [(_memory(f"m{i}", "x", datetime(2024, 1, i + 1, tzinfo=UTC)), 1.9 - i * 0.01)
               for i in range(9)]
    gains = adjust(time_scope("where do I live now?"), ranked)
    assert gains == {"close": pytest.approx(ORDER_SHARE * (2.0 - 1.82))}


@pytest.mark.parametrize(("text", "found"), [
    ("Where did I lose my wallet?", "latin"),
    ("钱包在哪里丢的", "han"),
    ("分析员Alice经常处理Cobalt Strike入侵事件", "han"),
    ("Kubernetes迁移", "latin"),
    ("明日は寒くて風が強いでしょう。", "kana"),
    ("내일은 춥고 바람이 많이 불 거예요.", "hangul"),
    ("10.120.8.21", "latin"),
])
def test_the_script_a_text_is_written_in(text: str, found: str) -> None:
    assert script(text) == found


def test_centres_subtract_the_mean_of_the_texts_script() -> None:
    assert all(len(row) == len(SCRIPTS) for row in REFERENCE)
    rng = np.random.default_rng(0)
    table = {text: rng.normal(size=8).astype(np.float32) for row in REFERENCE for text in row}

    def encode(texts: list[str], query: bool) -> np.ndarray:
        rows = np.stack([table[t] + (1.0 if query else 0.0) for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    centres = Centres(encode)
    vectors = encode([REFERENCE[0][1]], False)
    centred = centres.centre([REFERENCE[0][1]], vectors, query=False)
    mean = encode([row[1] for row in REFERENCE], False).mean(axis=0)
    expected = (vectors[0] - mean) / np.linalg.norm(vectors[0] - mean)
    assert np.allclose(centred[0], expected, atol=1e-6)
    assert np.isclose(np.linalg.norm(centred[0]), 1.0)
