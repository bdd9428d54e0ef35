"""Personal finance advisor: portfolio and risk tolerance in the profile; advice that uses
them after a market change.

    python examples/finance_advisor.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agent_kit import Agent, open_memory, options


def main(argv: Sequence[str] | None = None) -> None:
    args = options(__doc__.splitlines()[0], argv)
    with open_memory(args) as memory:
        intake = Agent(memory, "advisor", "dana", "intake")
        intake.hear("I have 60% in a world index fund, 30% in bonds and 10% in cash.",
                    profile={"stocks_percent": 60, "bonds_percent": 30, "cash_percent": 10})
        intake.hear("I'm retiring in five years, so I can't stomach big losses.",
                    profile={"risk_tolerance": "low", "horizon_years": 5})
        later = Agent(memory, "advisor", "dana", "market-drop")
        later.hear("Stocks fell 15% this week. Should I buy more shares while they're cheap?")
        found = later.recall("retiring soon and losses")
        facts = later.profile()
        stocks = facts["stocks_percent"]
        later.reply("Should I buy more shares?",
                    f"With a {facts['risk_tolerance']} risk tolerance and "
                    f"{facts['horizon_years']} years to retirement, keep your {stocks}% in "
                    "stocks rather than adding more; rebalance back to 60/30/10 if the drop "
                    "pushed bonds above 30%.", found)


if __name__ == "__main__":
    main(sys.argv[1:])
