"""``Memvault.import_lines``: checked like an add, all or nothing unless ``skip_invalid``,
into another user on request, and filling the vectors an earlier import left out."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from memvault import Config, InvalidInput, Memvault
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


def _config(path: Path) -> Config:
    path.mkdir(exist_ok=True)
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none"})


async def _export(path: Path) -> list[str]:
    async with Memvault(_config(path), embedder=None) as mv:
        for text in ("first memory", "second memory", "third memory"):
            await mv.add(text, profile={"city": text})
        return [line async for line in mv.export()]


def _changed(line: str, **changes: object) -> str:
    return json.dumps({**json.loads(line), **changes})


async def test_bad_lines_import_nothing_or_are_skipped(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    bad = [*lines[:2], _changed(lines[2], id="x1", content=""),
           _changed(lines[2], id="x2", session_id="a\nb"), b"\xed\xa0\x80", *lines[2:]]
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        with pytest.raises(InvalidInput) as caught:
            await mv.import_lines(bad)
        message = str(caught.value)
        assert "line 3: content" in message
        assert "line 4: session_id" in message
        assert "line 5: is not UTF-8" in message
        assert (await mv.list(limit=10)).items == []
        assert (await mv.get_profile(include_history=True)).history == []

        report = await mv.import_lines(bad, skip_invalid=True)
        assert [problem.line for problem in report.invalid] == [3, 4, 5]
        assert (report.memories, report.profile_facts) == (3, 3)


async def test_user_id_imports_as_that_user(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        report = await mv.import_lines(lines, user_id="zed")
        assert (report.memories, report.profile_facts) == (3, 3)
        assert {m.user_id for m in (await mv.list(user_id="zed")).items} == {"zed"}
        assert (await mv.get_profile(user_id="zed", include_history=True)).facts
        assert (await mv.list()).items == []
        assert (await mv.get_profile(include_history=True)).history == []


async def test_one_users_export_imports_as_another_user_of_the_same_store(
        tmp_path: Path) -> None:
    async with Memvault(_config(tmp_path / "a"), embedder=None) as mv:
        for text in ("first memory", "second memory"):
            await mv.add(text, profile={"city": text}, session_id="s")
        lines = [line async for line in mv.export()]
        report = await mv.import_lines(lines, user_id="carol")
        assert (report.memories, report.profile_facts, report.skipped) == (2, 2, 0)
        again = await mv.import_lines(lines, user_id="carol")
        assert (again.memories, again.profile_facts, again.skipped) == (0, 0, 4)
        alice = (await mv.list(limit=10)).items
        carol = (await mv.list(user_id="carol", limit=10)).items
        assert [m.content for m in carol] == [m.content for m in alice]
        assert not {m.id for m in carol} & {m.id for m in alice}
        # Her facts cite her copies, and her turns are linked in their order.
        profile = await mv.get_profile(user_id="carol", include_history=True)
        assert {s for f in [*profile.facts, *profile.history] for s in f.source_memory_ids} \
            == {m.id for m in carol}
        hits = (await mv.search("second", user_id="carol", context=1)).hits
        assert [c.content for c in hits[0].context] == ["first memory"]
        assert (await mv.import_lines(lines)).memories == 0  # alice's own: already there


async def test_importing_again_fills_the_missing_vectors(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        await mv.import_lines(lines)
    gate = anyio.Event()  # the model loads once the import has returned
    async with Memvault(_config(tmp_path / "b"), embedder=HashEmbedder(gate=gate)) as mv:
        report = await mv.import_lines(lines)
        assert (report.memories, report.skipped) == (0, 6)
        gate.set()
        assert await mv.wait_for_vectors(timeout=10)
        assert await mv.episodic.count_embeddings() == 3


async def test_an_export_cut_short_imports_nothing(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    assert json.loads(lines[-1]) == {"type": "end", "memories": 3, "profile_facts": 3,
                                     "audit": 3}
    cut = [line for line in lines if '"type": "end"' not in line]
    missing = [line for line in lines if '"first memory"' not in line]
    after = [*lines, lines[1]]
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        with pytest.raises(InvalidInput, match="ends without its end line: it was cut short"):
            await mv.import_lines(cut[:4])  # cut at a line's end, one memory in
        with pytest.raises(InvalidInput, match="the end line counts 3 memories, 3 "
                                               "profile_facts, 3 audit, the file holds 2"):
            await mv.import_lines(missing)
        with pytest.raises(InvalidInput, match=f"line {len(after)}: comes after the end"):
            await mv.import_lines(after)
        assert (await mv.list(limit=10)).items == []
        # What a damaged file holds can still be had, on request.
        report = await mv.import_lines(cut[:4], skip_invalid=True)
        assert report.memories == 3
        assert "cut short" in report.invalid[-1].message
        assert (await mv.import_lines(lines)).skipped == 3


async def test_an_import_made_before_ids_were_derived_is_not_repeated(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    # What an earlier version stored: alice's records for carol, under their exported ids.
    as_carol = [lines[0], *(_changed(line, user_id="carol") for line in lines[1:-1]
                            if json.loads(line)["type"] != "audit")]
    as_carol[0] = json.dumps({**json.loads(lines[0]), "version": 2})
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        assert (await mv.import_lines(as_carol)).memories == 3
        report = await mv.import_lines(lines, user_id="carol")
        assert (report.memories, report.profile_facts, report.skipped) == (0, 0, 6)
        assert len((await mv.list(user_id="carol", limit=10)).items) == 3


async def test_values_earlier_versions_stored_still_import(tmp_path: Path) -> None:
    lines = await _export(tmp_path / "a")
    legacy = [lines[0], _changed(lines[1], metadata={"order": 2**64 + 5, "note": "a\x00b"}),
              *lines[2:]]
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        assert (await mv.import_lines(legacy)).memories == 3
        [first] = [m for m in (await mv.list(limit=10)).items if m.id == json.loads(lines[1])["id"]]
        assert first.metadata == {"order": 2**64 + 5, "note": "a\x00b"}
        with pytest.raises(InvalidInput, match="64-bit"):
            await mv.add("new", metadata={"order": 2**64 + 5})


async def test_exports_joined_one_after_another_import_and_are_each_checked(
        tmp_path: Path) -> None:
    first = await _export(tmp_path / "a")
    async with Memvault(_config(tmp_path / "c"), embedder=None) as mv:
        await mv.add("bob's only memory", user_id="bob")
        second = [line async for line in mv.export(user_id="bob")]
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        with pytest.raises(InvalidInput, match="cut short"):  # the first one, cut
            await mv.import_lines([*first[:-1], *second])
        report = await mv.import_lines([*first, *second])
        assert report.memories == 4


async def test_a_fact_value_that_writes_a_nul_escape_imports(tmp_path: Path) -> None:
    async with Memvault(_config(tmp_path / "a"), embedder=None) as mv:
        await mv.add("regex note", profile={"pattern": r"strip \u0000 bytes"})
        lines = [line async for line in mv.export()]
    async with Memvault(_config(tmp_path / "b"), embedder=None) as mv:
        assert (await mv.import_lines(lines)).profile_facts == 1
        with pytest.raises(InvalidInput, match="NUL"):
            await mv.import_lines([lines[0], _changed(lines[2], id="f2", value="a\x00b")])
