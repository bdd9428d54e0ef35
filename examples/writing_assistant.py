"""Writing assistant: a company's style guide and terms remembered and applied to a new
document.

    python examples/writing_assistant.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from agent_kit import Agent, open_memory, options


def main(argv: Sequence[str] | None = None) -> None:
    args = options(__doc__.splitlines()[0], argv)
    with open_memory(args) as memory:
        guide = Agent(memory, "writer", "northwind", "style-guide")
        guide.hear("Our style guide: British spelling, sentence-case headings, no "
                   "exclamation marks.", profile={"spelling": "British",
                                                  "headings": "sentence case"})
        guide.hear("Always write 'Northwind Cloud', never 'the NW platform'; customers are "
                   "'members', not 'users'.",
                   profile={"terms": ["the NW platform -> Northwind Cloud", "users -> members"]})
        draft = Agent(memory, "writer", "northwind", "release-notes")
        text = "New Features For Users! The NW platform now color-codes your dashboards!"
        draft.hear(f"Please fix this draft: {text}")
        found = draft.recall("style guide terms for the NW platform and users")
        facts = draft.profile()
        fixed = text
        for term in facts["terms"]:
            old, new = term.split(" -> ")
            fixed = re.sub(re.escape(old), new, fixed, flags=re.IGNORECASE)
        fixed = fixed.replace("New Features For members", "New features for members")
        fixed = fixed.replace("color", "colour").replace("!", ".")
        draft.reply("Fix the draft", fixed, found)


if __name__ == "__main__":
    main(sys.argv[1:])
