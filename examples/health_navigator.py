"""Health navigator: medical history, allergies and medications in the profile, carried from
one department's agent to another's.

    python examples/health_navigator.py
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agent_kit import Agent, open_memory, options


def main(argv: Sequence[str] | None = None) -> None:
    args = options(__doc__.splitlines()[0], argv)
    with open_memory(args) as memory:
        gp = Agent(memory, "primary-care", "patient-17", "visit-2024-03")
        gp.hear("I'm allergic to penicillin; it gave me hives as a child.",
                profile={"allergy": "penicillin"})
        gp.hear("I take metformin 500 mg twice a day for type 2 diabetes.",
                profile={"medication": "metformin 500 mg twice daily",
                         "condition": "type 2 diabetes"})
        gp.hear("My chest feels tight when I climb stairs.")
        cardio = Agent(memory, "cardiology", "patient-17", "referral-2024-04")
        cardio.hear("Primary care sent me here about the chest tightness.")
        found = cardio.recall("chest tightness on stairs")
        facts = cardio.profile()
        cardio.reply("Can you give me something before the stress test?",
                     f"Noted: you are allergic to {facts['allergy']} and take "
                     f"{facts['medication']}; I will avoid penicillin-class antibiotics and "
                     "we will hold metformin on the morning of the test.", found)
        pharmacy = Agent(memory, "pharmacy", "patient-17", "pickup-2024-04")
        pharmacy.hear("Is the new prescription safe with what I already take?")
        found = pharmacy.recall("what I take and what I am allergic to")
        pharmacy.reply("Is it safe?", f"It does not interact with {facts['medication']}, and "
                       f"it is not related to {facts['allergy']}.", found)


if __name__ == "__main__":
    main(sys.argv[1:])
