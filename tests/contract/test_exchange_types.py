"""Typed memories through export and import, on the embedded store and on the server
stores: the type (as ``memory_type``) and data round-trip, version 1 files still import,
and bad typed lines are refused by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memvault.core.exchange import FORMAT, VERSION, export_lines, import_lines
from memvault.errors import InvalidInput
from memvault.models import MemoryFilter
from tests.contract.builders import memory
from tests.contract.conftest import EPISODIC, PROFILE
from tests.contract.test_exchange import _LIMITS, PAIRS

pytestmark = pytest.mark.anyio

DEAL = {"account": "Acme", "stage": "won", "value": 12000}


@pytest.mark.parametrize(("episodic_name", "profile_name"), PAIRS,
                         ids=[f"{e}+{p}" for e, p in PAIRS])
async def test_type_and_data_round_trip(tmp_path: Path, episodic_name: str,
                                        profile_name: str) -> None:
    typed = memory("deal: account=Acme; stage=won; value=12000", type="deal", data=DEAL)
    plain = memory("an untyped note", minutes=1)
    (tmp_path / "from").mkdir()
    (tmp_path / "to").mkdir()
    async with (
        EPISODIC[episodic_name](tmp_path / "from") as episodic,
        PROFILE[profile_name](tmp_path / "from") as profile,
    ):
        await episodic.add([typed, plain])
        lines = [line async for line in export_lines(episodic, profile, None)]
    header, *rest = map(json.loads, lines)
    assert header["version"] == VERSION == 3
    by_id = {line["id"]: line for line in rest if line["type"] == "memory"}
    assert (by_id[typed.id]["memory_type"], by_id[typed.id]["data"]) == ("deal", DEAL)
    assert "memory_type" not in by_id[plain.id]
    assert "data" not in by_id[plain.id]

    async with (
        EPISODIC[episodic_name](tmp_path / "to") as episodic,
        PROFILE[profile_name](tmp_path / "to") as profile,
    ):
        report = await import_lines(episodic, profile, lines, limits=_LIMITS)
        assert report.memories == 2
        assert await episodic.get("alice", [typed.id, plain.id]) == [typed, plain]
        won = MemoryFilter(user_id="alice", type="deal", data={"stage": "won"})
        assert [m.id for m in await episodic.list(won, limit=5)] == [typed.id]


async def test_version_one_files_import(tmp_path: Path) -> None:
    old = memory("from an older memvault")
    line = {"type": "memory", **old.model_dump(mode="json", exclude={"type", "data"})}
    lines = [json.dumps({"type": "header", "format": FORMAT, "version": 1}), json.dumps(line)]
    async with EPISODIC["sqlite"](tmp_path) as episodic, PROFILE["sqlite"](tmp_path) as profile:
        assert (await import_lines(episodic, profile, lines, limits=_LIMITS)).memories == 1
        assert await episodic.get("alice", [old.id]) == [old]
        future = [json.dumps({"type": "header", "format": FORMAT, "version": 4})]
        with pytest.raises(InvalidInput, match="version 1 or 2 or 3"):
            await import_lines(episodic, profile, future, limits=_LIMITS)


@pytest.mark.parametrize(("fields", "named"), [
    ({"memory_type": "deal", "data": [1]}, "data must be a JSON object"),
    ({"data": {"a": 1}}, "data needs a memory_type"),
    ({"memory_type": "", "data": {}}, "memory_type is empty"),
    ({"memory_type": "deal", "data": {"stage": "maybe"}}, "data.stage"),
])
async def test_bad_typed_lines_are_named(tmp_path: Path, fields: dict[str, object],
                                         named: str) -> None:
    line = {"type": "memory",
            **memory("x").model_dump(mode="json", exclude={"type", "data"}), **fields}
    lines = [json.dumps({"type": "header", "format": FORMAT, "version": VERSION}),
             json.dumps(line)]

    def check(kind: str, data: dict[str, object]) -> dict[str, object]:
        if data.get("stage") == "maybe":
            raise InvalidInput("data.stage: 'maybe' is not one of ['won']")
        return data

    async with EPISODIC["sqlite"](tmp_path) as episodic, PROFILE["sqlite"](tmp_path) as profile:
        with pytest.raises(InvalidInput, match=named) as caught:
            await import_lines(episodic, profile, lines, limits=_LIMITS,
                               check_data=check)  # type: ignore[arg-type]
        assert str(caught.value).startswith("line 2: ")
        assert await episodic.count() == 0
