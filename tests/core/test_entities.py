"""Entity extraction on sentences whose first word is capitalised only because it opens them."""

from __future__ import annotations

import pytest

from memvault.core.text.entities import entity_key, extract_entities

SENTENCES = [
    ("Booked Lisbon flight", ["lisbon"]),
    ("Piped memory", []),
    ("Remember Anna's birthday", ["anna"]),
    ("Visited New York City with Anna.", ["new york city", "anna"]),
    ("Started working at Google", ["google"]),
    ("- Booked Lisbon flight\n- Moved to Porto", ["lisbon", "porto"]),
    ('He said: "Fixed it." Then Ben left.', ["fixed it", "ben"]),
    ("Caroline went home", ["caroline"]),
    ("Beijing is big", ["beijing"]),
    ("Ted called. Then Fred came.", ["ted", "fred"]),
    ("Called Piped Piper Inc. about Piped Piper Inc.", ["piped piper inc"]),
    ("We flew to Lisbon. Booked Lisbon hotel too.", ["lisbon"]),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_sentence_initial_verbs_are_not_names(text: str, expected: list[str]) -> None:
    assert extract_entities(text) == expected


def test_a_filter_by_the_place_matches_what_the_note_names() -> None:
    assert entity_key("Lisbon") in extract_entities("Booked Lisbon flight")
