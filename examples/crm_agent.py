"""CRM agent: a customer's questions, price sensitivity and decision makers, remembered
across calls; the deal stage advancing; after-sales finds what pre-sales learned.

    python examples/crm_agent.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agent_kit import Agent, open_memory, options


def main(argv: Sequence[str] | None = None) -> None:
    args = options(__doc__.splitlines()[0], argv)
    with open_memory(args) as memory:
        call1 = Agent(memory, "pre-sales", "acme-corp", "call-1")
        call1.hear("We need 40 seats of the analytics plan; our budget is tight, under "
                   "20000 euros a year.", profile={"price_sensitivity": "high",
                                                   "deal_stage": "discovery"})
        call1.hear("Maria Lopez, our CFO, signs off on anything over 10000 euros.",
                   profile={"decision_maker": "Maria Lopez (CFO)"})
        call2 = Agent(memory, "pre-sales", "acme-corp", "call-2")
        call2.hear("Can the analytics plan export to our data warehouse?")
        found = call2.recall("budget and who signs off")
        call2.reply("What should the proposal say?",
                    "I'll send Maria Lopez a proposal for 40 seats under 20000 euros, with "
                    "the warehouse export included.", found)
        memory.set_profile({"deal_stage": "proposal"}, user_id="acme-corp")
        after = Agent(memory, "after-sales", "acme-corp", "onboarding-1")
        after.hear("We signed! Who should I talk to about invoices?")
        memory.set_profile({"deal_stage": "closed-won"}, user_id="acme-corp")
        found = after.recall("who signs off on spending")
        facts = after.profile()
        after.reply("Who handles invoices?", f"Invoices go to {facts['decision_maker']}, who "
                    "signed off on the deal; you asked for the warehouse export, so I will "
                    "set that up first.", found)
        history = memory.get_profile(user_id="acme-corp", include_history=True).history
        print("  deal stages: " + " -> ".join(
            [str(f.value) for f in sorted(history, key=lambda f: f.valid_from)
             if f.key == "deal_stage"] + [facts["deal_stage"]]))


if __name__ == "__main__":
    main(sys.argv[1:])
