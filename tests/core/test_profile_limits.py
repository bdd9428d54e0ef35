"""Profile values and keys have limits, the same on every profile store.

Contract pinned here, through the SDK, on the SQLite and the PostgreSQL profile store
(``postgresql://127.0.0.1:5432/test?schema=<unique>``):

* A profile value whose JSON serialization (``json.dumps``, quotes included) is over
  ``MEMVAULT_MAX_PROFILE_VALUE_BYTES`` bytes (default 65,536) is refused with
  :class:`~memvault.InvalidInput` naming the fact (``profile.<key>``) and the limit; a value of
  exactly the limit is accepted. Through ``add(profile=...)`` the memory is not stored either.
* A user has at most ``MEMVAULT_MAX_PROFILE_KEYS`` current keys (default 1,000): a write that
  would make more is refused naming the limit, and stores none of its facts (nor its memory);
  setting a key the user already has is accepted at the limit.
* Both limits are read from the environment like every other setting.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pytest

from memvault import Config, InvalidInput, Memvault
from tests.hostile_data import hostile_stores

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

ProfileBackend = Literal["sqlite", "postgres"]
VALUE_LIMIT = re.compile(r"65[,_ ]?536|64 ?KiB")
KEY_LIMIT = re.compile(r"\b1[,_ ]?000\b")


@asynccontextmanager
async def _memvault(backend: ProfileBackend, tmp_path: Path,
                    env: dict[str, str] | None = None) -> AsyncIterator[Memvault]:
    async with hostile_stores(backend, tmp_path) as stores:
        settings: dict[str, Any] = {**stores.settings(), "user_id": "alice",
                                    "embedder.kind": "none"}
        config = Config.load(settings, env=env or {})
        async with Memvault(config) as mv:
            yield mv


def _serialized(value: object) -> int:
    return len(json.dumps(value).encode())


def _refusal(exc: pytest.ExceptionInfo[InvalidInput], limit: re.Pattern[str],
             *names: str) -> str:
    message = str(exc.value)
    assert limit.search(message), f"the message does not name the limit: {message!r}"
    for name in names:
        assert name in message, f"the message does not name {name!r}: {message!r}"
    return message


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_value_over_64_kib_is_refused(backend: ProfileBackend, tmp_path: Path) -> None:
    at_limit, over = "x" * 65_534, "x" * 65_535
    assert (_serialized(at_limit), _serialized(over)) == (65_536, 65_537)
    async with _memvault(backend, tmp_path) as mv:
        await mv.set_profile({"bio": at_limit})
        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({"bio": over})
        _refusal(caught, VALUE_LIMIT, "profile.bio")
        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({"notes": ["y" * 40_000, "z" * 40_000]})
        _refusal(caught, VALUE_LIMIT, "profile.notes")
        with pytest.raises(InvalidInput) as caught:
            await mv.add("short", profile={"essay": "w" * 20_000_000})
        _refusal(caught, VALUE_LIMIT, "profile.essay")

        profile = await mv.get_profile(include_history=True)
        assert [(f.key, f.value) for f in profile.facts] == [("bio", at_limit)]
        assert profile.history == []
        assert (await mv.list(limit=10)).items == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_more_than_1000_keys_is_refused(backend: ProfileBackend, tmp_path: Path) -> None:
    async with _memvault(backend, tmp_path) as mv:
        await mv.set_profile({f"k{i:04}": i for i in range(1_000)})
        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({"one_more": 1})
        _refusal(caught, KEY_LIMIT)
        with pytest.raises(InvalidInput) as caught:
            await mv.add("I speak Basque", profile={"language": "Basque"})
        _refusal(caught, KEY_LIMIT)
        await mv.set_profile({"k0000": "changed"})

        profile = await mv.get_profile()
        assert len(profile.facts) == 1_000
        assert {f.key: f.value for f in profile.facts}["k0000"] == "changed"
        assert "one_more" not in {f.key for f in profile.facts}
        assert (await mv.list(limit=10)).items == []

        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({f"n{i:04}": i for i in range(1_001)}, user_id="bob")
        _refusal(caught, KEY_LIMIT)
        assert (await mv.get_profile(user_id="bob")).facts == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_the_limits_come_from_the_environment(
    backend: ProfileBackend, tmp_path: Path
) -> None:
    env = {"MEMVAULT_MAX_PROFILE_VALUE_BYTES": "100", "MEMVAULT_MAX_PROFILE_KEYS": "3"}
    async with _memvault(backend, tmp_path, env) as mv:
        await mv.set_profile({"a": "x" * 98, "b": 2, "c": 3})
        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({"a": "x" * 99})
        _refusal(caught, re.compile(r"\b100\b"), "profile.a")
        with pytest.raises(InvalidInput) as caught:
            await mv.set_profile({"d": 4})
        _refusal(caught, re.compile(r"\b3\b"))
        profile = await mv.get_profile()
        assert sorted(f.key for f in profile.facts) == ["a", "b", "c"]
