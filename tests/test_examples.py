"""The example agents run offline in one command and show cross-session and cross-agent
recall in their output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.interfaces.mcp_harness import clean_env

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

EXPECTED = {
    "crm_agent.py": [
        "recalled for 'who signs off on spending':",
        "Maria Lopez, our CFO, signs off on anything over 10000 euros.  [pre-sales, call-1]",
        "Invoices go to Maria Lopez (CFO)",
        "deal stages: discovery -> proposal -> closed-won",
    ],
    "health_navigator.py": [
        "== cardiology (session referral-2024-04",
        "My chest feels tight when I climb stairs.  [primary-care, visit-2024-03]",
        "you are allergic to penicillin and take metformin 500 mg twice daily",
        "== pharmacy",
    ],
    "finance_advisor.py": [
        "I'm retiring in five years, so I can't stomach big losses.  [advisor, intake]",
        "With a low risk tolerance and 5 years to retirement, keep your 60% in stocks",
    ],
    "writing_assistant.py": [
        "never 'the NW platform'; customers are 'members', not 'users'.  [writer, style-guide]",
        "writer: New features for members. Northwind Cloud now colour-codes your dashboards.",
    ],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_offline_and_recalls(script: str, tmp_path: Path) -> None:
    env = clean_env()
    env.pop("OPENAI_BASE_URL", None)  # scripted replies: no LLM
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--embedder", "none",
                             "--database", str(tmp_path / "m.db")],
                            capture_output=True, text=True, timeout=100, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for line in EXPECTED[script]:
        assert line in result.stdout, result.stdout
