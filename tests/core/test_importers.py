"""Importers of other tools' exports: each fixture imports as its documented structure says,
importing again adds nothing, and bad records are reported by position."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memvault import SyncMemvault
from memvault.errors import InvalidInput
from memvault.models import Memory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
MAP = "content=text,occurred_at=ts,session_id=conv"


def _open(db: Path, **settings: object) -> SyncMemvault:
    return SyncMemvault.open(db, user_id="alice", embedder="none", **settings)


def _all(mv: SyncMemvault, user: str = "alice") -> list[Memory]:
    return sorted(mv.list(user_id=user, limit=100).items, key=lambda m: m.occurred_at)


@pytest.mark.parametrize(("format", "source", "mapping", "count"), [
    ("chatgpt", "chatgpt", None, 7),
    ("chatgpt", "chatgpt/conversations.json", None, 7),
    ("claude", "claude", None, 5),
    ("mem0", "mem0/memories.json", None, 3),
    ("markdown", "markdown", None, 6),
    ("csv", "table/notes.csv", MAP, 3),
    ("jsonl", "table/notes.jsonl", MAP, 3),
])
def test_each_format_imports_once(tmp_path: Path, format: str, source: str,
                                  mapping: str | None, count: int) -> None:
    with _open(tmp_path / "m.db") as mv:
        first = mv.import_from(FIXTURES / source, format=format, mapping=mapping)
        assert (first.memories, first.skipped, first.invalid) == (count, 0, [])
        again = mv.import_from(FIXTURES / source, format=format, mapping=mapping)
        assert (again.memories, again.skipped) == (0, count)
        assert len(_all(mv)) == count


def test_chatgpt_takes_the_current_branch_as_chat_turns(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        mv.import_from(FIXTURES / "chatgpt", format="chatgpt")
        memories = _all(mv)
    text = "\n".join(m.content for m in memories)
    assert "Old answer" not in text  # the regenerated answer's abandoned branch
    assert "search results" not in text  # a tool message
    assert all(m.content.startswith(("user: ", "assistant: ")) for m in memories)
    lisbon = [m for m in memories if m.session_id == "6a1f0c2e-1111-4c3b-9d7a-lisbon000001"]
    assert sorted(m.content.split(":")[0] for m in lisbon) == ["assistant", "assistant",
                                                                "user", "user"]
    assert {m.metadata["title"] for m in lisbon} == {"Trip to Lisbon"}
    photo = next(m for m in lisbon if "hotel I booked" in m.content)
    assert photo.metadata["attachments"] == ["hotel.jpg", "file-service://file-HotelPhoto"]
    # a message without a time follows the one before it; milliseconds are read as such
    assert lisbon[-1].occurred_at >= photo.occurred_at
    budget = next(m for m in memories if "300 euros" in m.content)
    assert budget.occurred_at.isoformat() == "2024-06-01T00:00:00+00:00"
    passport = next(m for m in memories if "passport" in m.content)  # no current_node
    assert passport.occurred_at.isoformat() == "2024-06-03T09:15:00+00:00"


def test_claude_reads_text_blocks_and_names_attachments(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        mv.import_from(FIXTURES / "claude" / "conversations.json", format="claude")
        memories = _all(mv)
    first = memories[0]
    assert first.content.startswith("user: We are renovating the kitchen")
    assert first.metadata["attachments"] == ["floorplan.pdf"]
    assert first.metadata["title"] == "Kitchen renovation"
    answer = next(m for m in memories if m.content.startswith("assistant: With 12000"))
    assert "prices..." not in answer.content  # a tool result
    assert not any("tiles" in m.content for m in memories)  # a message without text


def test_mem0_keeps_users_with_all_users(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        report = mv.import_from(FIXTURES / "mem0", format="mem0", all_users=True)
        assert report.memories == 3
        alice, bob = _all(mv), _all(mv, "bob")
    assert [m.content for m in alice] == ["Is allergic to penicillin",
                                          "Prefers aisle seats on flights"]
    assert alice[1].session_id == "trip-2024"
    assert alice[1].agent_id == "travel-bot"
    assert alice[0].metadata["categories"] == ["health"]
    assert [m.content for m in bob] == ["Works as a nurse in Oakland"]


def test_markdown_sections_and_front_matter(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        mv.import_from(FIXTURES / "markdown", format="markdown")
        memories = {m.metadata.get("heading"): m for m in _all(mv)}
    style = memories["Notes on style"]
    assert "# not a heading" in style.content  # a fenced code block is not split
    assert style.session_id == "reading"
    assert style.metadata["tags"] == ["books", 2024]
    assert memories["Packing"].metadata["file"] == "trips/porto.md"


def test_bad_records_are_named_by_position_and_nothing_is_stored(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "mem0" / "memories.json").read_text())
    data["results"][1]["metadata"] = ["not", "an", "object"]
    data["results"][2]["memory"] = "   "
    body = json.dumps(data).encode()
    with _open(tmp_path / "m.db") as mv:
        with pytest.raises(InvalidInput) as caught:
            mv.import_from(body, format="mem0", name="memories.json")
        message = str(caught.value)
        assert "memories.json: memory 2: metadata must be a JSON object" in message
        assert "memories.json: memory 3: content is empty" in message
        assert _all(mv) == []
        report = mv.import_from(body, format="mem0", name="memories.json", skip_invalid=True)
        assert report.memories == 1
        assert len(report.invalid) == 2


def test_chatgpt_bad_message_is_named(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "chatgpt" / "conversations.json").read_text())
    data[1]["mapping"]["b1"]["message"]["create_time"] = "yesterday"
    with _open(tmp_path / "m.db") as mv, pytest.raises(InvalidInput) as caught:
        mv.import_from(json.dumps(data).encode(), format="chatgpt", name="conversations.json")
    assert ("conversations.json: conversation 2, message 2: create_time is not a timestamp"
            in str(caught.value))


def test_per_user_imports_are_apart(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        mv.import_from(FIXTURES / "claude", format="claude")
        report = mv.import_from(FIXTURES / "claude", format="claude", user_id="bob")
        assert report.memories == 5
        assert len(_all(mv, "bob")) == len(_all(mv)) == 5


@pytest.mark.parametrize(("format", "source", "mapping"), [
    ("chatgpt", "chatgpt", None), ("claude", "claude", None), ("mem0", "mem0", None),
    ("markdown", "markdown", None), ("csv", "table/notes.csv", MAP),
])
def test_import_export_import_adds_nothing(tmp_path: Path, format: str, source: str,
                                           mapping: str | None) -> None:
    with _open(tmp_path / "m.db") as mv:
        count = mv.import_from(FIXTURES / source, format=format, mapping=mapping).memories
        written = mv.export_markdown(tmp_path / "notes")
        assert tmp_path / "notes" / "profile.md" in written
        again = mv.import_from(tmp_path / "notes", format="markdown")
        assert (again.memories, again.skipped) == (0, count)
        lines = mv.export()
    with _open(tmp_path / "other.db") as other:
        other.import_from("\n".join(lines).encode(), format="jsonl")
        # the notes of another store's export bring the same memories, with their ids
        back = other.import_from(tmp_path / "notes", format="markdown")
        assert (back.memories, back.skipped) == (0, count)


def test_markdown_notes_read_back_whole(tmp_path: Path) -> None:
    with _open(tmp_path / "m.db") as mv:
        mv.import_from(FIXTURES / "chatgpt", format="chatgpt")
        mv.set_profile({"diet": "vegetarian"})
        mv.set_profile({"diet": "vegan"})
        mv.export_markdown(tmp_path / "notes")
        originals = {m.id: m for m in _all(mv)}
    profile = (tmp_path / "notes" / "profile.md").read_text()
    assert "| diet | vegan |" in profile
    assert "| diet | vegetarian |" in profile
    note = next((tmp_path / "notes" / "sessions").glob("6a1f0c2e-*.md")).read_text()
    assert note.startswith("---\nformat: \"memvault-markdown\"\nsession_id: ")
    assert "# Trip to Lisbon" in note
    with _open(tmp_path / "fresh.db") as fresh:
        assert fresh.import_from(tmp_path / "notes", format="markdown").memories == 7
        for memory in _all(fresh):
            original = originals[memory.id]
            assert (memory.content, memory.session_id, memory.occurred_at, memory.metadata) == (
                original.content, original.session_id, original.occurred_at,
                original.metadata)


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_the_stores_own_file_is_not_imported(tmp_path: Path, suffix: str) -> None:
    database = tmp_path / "own.db"
    with SyncMemvault.open(str(database), user_id="alice", embedder="none") as mv:
        mv.add("kept as it was")
        with pytest.raises(InvalidInput, match="own store file"):
            mv.import_from(str(database) + suffix, format="csv")
        assert [m.content for m in mv.list().items] == ["kept as it was"]


def test_a_hard_link_to_the_store_file_is_refused_and_a_missing_file_named(
        tmp_path: Path) -> None:
    database = tmp_path / "own.db"
    with SyncMemvault.open(str(database), user_id="alice", embedder="none") as mv:
        mv.add("kept as it was")
        (tmp_path / "linked.db").hardlink_to(database)
        with pytest.raises(InvalidInput, match="own store file"):
            mv.import_from(str(tmp_path / "linked.db"), format="csv")
        with pytest.raises(InvalidInput, match="cannot be read"):
            mv.import_from(str(tmp_path / "missing.csv"), format="csv")
        assert [m.content for m in mv.list().items] == ["kept as it was"]
