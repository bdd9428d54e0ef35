"""Memory types from the command line: ``memvault types``, typed ``add``, ``list --type``,
``search --type`` and ``update --data``, with types from MEMVAULT_TYPES."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from memvault.interfaces.cli.main import cli
from tests.core.test_memory_types import TYPES

ENV = {"MEMVAULT_TYPES": json.dumps(TYPES)}


def _run(db: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--database", str(db), "--embedder", "none",
                                    "--user", "alice", *args], env=ENV if env is None else env)


def test_types_lists_the_configured_types(tmp_path: Path) -> None:
    listed = _run(tmp_path / "m.db", "types")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0] == "deal: A sales opportunity  [account, stage, value]"
    as_json = json.loads(_run(tmp_path / "m.db", "types", "--json").stdout)
    assert [t["name"] for t in as_json["types"]] == ["deal", "medication"]
    none = _run(tmp_path / "m.db", "types", env={"MEMVAULT_TYPES": ""})
    assert "no memory types configured" in none.stdout


def test_typed_add_list_search_and_update(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    added = _run(db, "add", "--type", "deal", "--data",
                 '{"account": "Acme", "stage": "negotiation"}')
    assert added.exit_code == 0, added.output
    memory_id = added.stdout.strip()
    assert _run(db, "add", "Acme called").exit_code == 0
    page = json.loads(_run(db, "list", "--type", "deal", "--json").stdout)
    assert [(m["id"], m["content"]) for m in page["items"]] == [
        (memory_id, "deal: account=Acme; stage=negotiation")]
    found = json.loads(_run(db, "search", "Acme", "--type", "deal", "--json").stdout)
    assert [h["memory"]["id"] for h in found["hits"]] == [memory_id]
    updated = _run(db, "update", memory_id, "--data", '{"account": "Acme", "stage": "won"}',
                   "--json")
    assert updated.exit_code == 0, updated.output
    record = json.loads(updated.stdout)
    assert (record["data"]["stage"], record["history"][0]["data"]["stage"]) == (
        "won", "negotiation")


def test_invalid_typed_add_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    failed = _run(db, "add", "--type", "medication", "--data", '{"name": "Metformin"}')
    assert failed.exit_code == 1
    assert "data: 'dose' is a required property" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    unknown = _run(db, "add", "--type", "recipe", "--data", "{}")
    assert "configured: deal, medication" in unknown.stderr
    assert json.loads(_run(db, "list", "--json").stdout)["items"] == []
