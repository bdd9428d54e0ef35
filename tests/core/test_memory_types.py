"""Memory types of the user's own through the core: configuration, validation, the rendered
text, filters on type and data fields, updates of data and their history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memvault import Config, InvalidInput, Memvault
from memvault.core.typed import render
from memvault.errors import ConfigError
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio

TYPES: dict[str, Any] = {
    "medication": {
        "description": "A medication the user takes",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "dose": {"type": "string"},
                           "since": {"type": "string"}},
            "required": ["name", "dose"],
            "additionalProperties": False,
        },
    },
    "deal": {
        "description": "A sales opportunity",
        "schema": {
            "type": "object",
            "properties": {"account": {"type": "string"},
                           "stage": {"enum": ["lead", "negotiation", "won", "lost"]},
                           "value": {"type": "number", "minimum": 0}},
            "required": ["account", "stage"],
        },
    },
}


def _config(path: Path, types: dict[str, Any] | None = None) -> Config:
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none", "types": TYPES if types is None else types})


@pytest.fixture
async def mv(tmp_path: Path) -> AsyncIterator[Memvault]:
    async with Memvault(_config(tmp_path), embedder=HashEmbedder()) as memvault:
        yield memvault


# -- configuration ---------------------------------------------------------------------------


def test_types_from_the_environment_and_a_toml_file(tmp_path: Path) -> None:
    from_env = Config.load(env={"MEMVAULT_TYPES": json.dumps(TYPES)})
    assert sorted(from_env.types) == ["deal", "medication"]
    assert from_env.types["deal"].description == "A sales opportunity"
    toml = tmp_path / "memvault.toml"
    toml.write_text(
        '[types.medication]\ndescription = "A medication"\n'
        '[types.medication.schema]\ntype = "object"\nrequired = ["name"]\n'
        '[types.medication.schema.properties.name]\ntype = "string"\n')
    from_file = Config.load(config_file=toml)
    assert from_file.types["medication"].json_schema["required"] == ["name"]


@pytest.mark.parametrize(("types", "named"), [
    ({"Deal": {"schema": {"type": "object"}}}, "type name 'Deal'"),
    ({"deal": {}}, "types.deal.schema"),
    ({"deal": {"schema": {"type": "list"}}}, "types.deal.schema"),
    ({"deal": {"schema": {"type": "string"}}}, "must describe an object"),
    ({"deal": {"schema": {"type": "object"}, "colour": "red"}}, "types.deal.colour"),
    ("{not json", "MEMVAULT_TYPES must be a JSON object"),
])
def test_bad_types_are_refused_naming_the_setting(types: object, named: str) -> None:
    env = {"MEMVAULT_TYPES": types if isinstance(types, str) else json.dumps(types)}
    with pytest.raises(ConfigError, match=named) as caught:
        Config.load(env=env)
    assert "\n" not in str(caught.value)


# -- adds ------------------------------------------------------------------------------------


def test_render_follows_the_schema_order() -> None:
    schema = TYPES["medication"]["schema"]
    data = {"since": "2025-03", "dose": "500 mg", "name": "Metformin"}
    assert render("medication", data, schema) == (
        "medication: name=Metformin; dose=500 mg; since=2025-03")
    assert render("tags", {"list": ["a", "b"], "ok": True, "o": {"x": 1}}, {}) == (
        'tags: list=a, b; ok=true; o={"x":1}')


async def test_a_typed_memory_is_stored_rendered_and_found(mv: Memvault) -> None:
    memory = await mv.add(type="medication",
                          data={"name": "Metformin", "dose": "500 mg", "since": "2025-03"})
    assert memory.content == "medication: name=Metformin; dose=500 mg; since=2025-03"
    assert (memory.type, memory.data) == (
        "medication", {"name": "Metformin", "dose": "500 mg", "since": "2025-03"})
    assert await mv.get(memory.id) == memory
    hits = (await mv.search("Metformin dose", wait_for_model=1)).hits
    assert [h.memory.id for h in hits] == [memory.id]
    assert hits[0].memory.data == memory.data


async def test_given_content_is_kept_verbatim(mv: Memvault) -> None:
    memory = await mv.add("Started Metformin this spring", type="medication",
                          data={"name": "Metformin", "dose": "500 mg"})
    assert memory.content == "Started Metformin this spring"
    assert memory.data == {"name": "Metformin", "dose": "500 mg"}


@pytest.mark.parametrize(("kind", "data", "named"), [
    ("medication", {"name": "Metformin"}, "data: 'dose' is a required property"),
    ("medication", {"name": "M", "dose": 500}, "data.dose: 500 is not of type 'string'"),
    ("medication", {"name": "M", "dose": "1", "x": 1}, "Additional properties"),
    ("deal", {"account": "Acme", "stage": "maybe"}, "data.stage: 'maybe' is not one of"),
    ("deal", {"account": "Acme", "stage": "won", "value": -1}, "data.value: -1 is less"),
    ("deal", [1], "data must be a JSON object"),
    ("recipe", {"name": "soup"}, "configured: deal, medication"),
    (None, {"name": "soup"}, "data needs a type"),
])
async def test_invalid_typed_adds_store_nothing(mv: Memvault, kind: str | None, data: Any,
                                                named: str) -> None:
    with pytest.raises(InvalidInput, match=named) as caught:
        await mv.add("x" if kind is None else None, type=kind, data=data)
    assert "\n" not in str(caught.value)
    assert await mv.count() == 0


async def test_no_types_configured_says_so(tmp_path: Path) -> None:
    async with Memvault(_config(tmp_path, {}), embedder=HashEmbedder()) as memvault:
        with pytest.raises(InvalidInput, match="none are configured"):
            await memvault.add(type="deal", data={"account": "Acme", "stage": "won"})


async def test_an_untyped_add_still_needs_content(mv: Memvault) -> None:
    with pytest.raises(InvalidInput, match="content"):
        await mv.add_many([{"metadata": {}}])
    with pytest.raises(InvalidInput, match="content is missing"):
        await mv.add()


# -- filters ---------------------------------------------------------------------------------


async def test_list_and_search_filter_by_type_and_data(mv: Memvault) -> None:
    won = await mv.add(type="deal", data={"account": "Acme", "stage": "won", "value": 12000})
    lost = await mv.add(type="deal", data={"account": "Globex", "stage": "lost"})
    pill = await mv.add(type="medication", data={"name": "Aspirin", "dose": "100 mg"})
    plain = await mv.add("The Acme deal call went well")
    assert {m.id for m in (await mv.list(type="deal")).items} == {won.id, lost.id}
    assert [m.id for m in (await mv.list(filters={"type": "medication"})).items] == [pill.id]
    assert [m.id for m in (await mv.list(filters={"data": {"stage": "won"}})).items] == [won.id]
    assert [m.id for m in (await mv.list(filters={"data": {"value": 12000}})).items] == [won.id]
    absent = {m.id for m in (await mv.list(filters={"type": "deal",
                                                    "data": {"value": None}})).items}
    assert absent == {lost.id}
    found = await mv.search("Acme", type="deal", wait_for_model=1)
    assert found.hits[0].memory.id == won.id
    assert {h.memory.type for h in found.hits} == {"deal"}
    everything = await mv.search("Acme", wait_for_model=1)
    assert {h.memory.id for h in everything.hits} >= {won.id, plain.id}
    with pytest.raises(InvalidInput, match=r"filters\.data"):
        await mv.list(filters={"data": {"stage": ["won"]}})


# -- updates ---------------------------------------------------------------------------------


async def test_update_of_data_validates_renders_again_and_keeps_history(mv: Memvault) -> None:
    deal = await mv.add(type="deal", data={"account": "Acme", "stage": "negotiation"})
    with pytest.raises(InvalidInput, match=r"data\.stage"):
        await mv.update(deal.id, data={"account": "Acme", "stage": "closed"})
    updated = await mv.update(deal.id, data={"account": "Acme", "stage": "won"})
    assert updated.data == {"account": "Acme", "stage": "won"}
    assert updated.content == "deal: account=Acme; stage=won"
    [old] = await mv.history(deal.id)
    assert (old.content, old.data) == (deal.content, deal.data)
    assert [m.id for m in (await mv.list(filters={"data": {"stage": "won"}})).items] == [deal.id]
    plain = await mv.add("untyped")
    with pytest.raises(InvalidInput, match="has no memory type"):
        await mv.update(plain.id, data={"a": 1})


async def test_update_keeps_given_content(mv: Memvault) -> None:
    deal = await mv.add("Acme is close to signing", type="deal",
                        data={"account": "Acme", "stage": "negotiation"})
    updated = await mv.update(deal.id, data={"account": "Acme", "stage": "won"})
    assert updated.content == "Acme is close to signing"
    assert updated.data == {"account": "Acme", "stage": "won"}


# -- export and import -----------------------------------------------------------------------


async def test_export_import_round_trip_and_checks_configured_types(
    mv: Memvault, tmp_path: Path
) -> None:
    deal = await mv.add(type="deal", data={"account": "Acme", "stage": "won"})
    lines = [line async for line in mv.export()]
    target = tmp_path / "other"
    target.mkdir()
    async with Memvault(_config(target), embedder=HashEmbedder()) as other:
        report = await other.import_lines(lines)
        assert report.memories == 1
        assert await other.get(deal.id) == deal
        assert [m.id for m in (await other.list(type="deal")).items] == [deal.id]
    bad = [line.replace('"stage": "won"', '"stage": "maybe"') for line in lines]
    unconfigured = tmp_path / "unconfigured"
    unconfigured.mkdir()
    async with Memvault(_config(unconfigured, {"medication": TYPES["medication"]}),
                        embedder=HashEmbedder()) as other:
        # a type this memvault does not configure is kept as exported
        assert (await other.import_lines(bad)).memories == 1
        assert (await other.get(deal.id)).data == {"account": "Acme", "stage": "maybe"}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    async with Memvault(_config(fresh), embedder=HashEmbedder()) as other:
        with pytest.raises(InvalidInput, match=r"line 2: data\.stage: 'maybe' is not one of"):
            await other.import_lines(bad)
        assert await other.count() == 0


async def test_csv_and_jsonl_rows_can_be_typed(mv: Memvault, tmp_path: Path) -> None:
    table = tmp_path / "meds.csv"
    table.write_text('memory_type,data,content\n'
                     'medication,"{""name"": ""Metformin"", ""dose"": ""500 mg""}",\n'
                     'medication,"{""name"": ""Aspirin"", ""dose"": ""75 mg""}",takes aspirin\n'
                     ',,a plain note\n')
    report = await mv.import_from(table, format="csv")
    assert report.memories == 3
    typed = (await mv.list(type="medication")).items
    assert sorted(m.content for m in typed) == ["medication: name=Metformin; dose=500 mg",
                                                "takes aspirin"]
    assert {m.data["name"] for m in typed if m.data} == {"Metformin", "Aspirin"}
    rows = tmp_path / "deals.jsonl"
    rows.write_text(json.dumps({"memory_type": "deal", "data": {"account": "Acme",
                                                         "stage": "lead"}}) + "\n")
    assert (await mv.import_from(rows, format="jsonl")).memories == 1
    assert [m.data for m in (await mv.list(type="deal")).items] == [
        {"account": "Acme", "stage": "lead"}]


async def test_a_bad_typed_row_imports_nothing(mv: Memvault, tmp_path: Path) -> None:
    table = tmp_path / "meds.csv"
    table.write_text('memory_type,data,content\n'
                     ',,first a plain note\n'
                     'medication,"{""name"": ""Metformin""}",\n'
                     'recipe,{},soup\n'
                     ',"{""a"": 1}",untyped data\n')
    with pytest.raises(InvalidInput) as failure:
        await mv.import_from(table, format="csv")
    message = str(failure.value)
    assert "line 3: data: 'dose' is a required property" in message
    assert "line 4: type 'recipe' is not a configured memory type" in message
    assert "line 5: data needs a type" in message
    assert await mv.count() == 0
