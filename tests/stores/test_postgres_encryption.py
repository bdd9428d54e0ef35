"""Profile values on PostgreSQL sealed field by field: no plaintext in the rows, old rows
readable while keys rotate, ``rekey_fields`` re-seals them, a missing key is a clear error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from memvault.config import EncryptionConfig
from memvault.errors import EncryptionError
from memvault.models import ProfileFact
from memvault.stores.crypto import KeySet
from memvault.stores.registry import open_profile
from tests.contract.backends.postgres import _drop_schema, schema_for, server_url, with_schema

pytest.importorskip("cryptography")
asyncpg = pytest.importorskip("asyncpg")
pytestmark = pytest.mark.anyio

OLD, NEW = "old-field-passphrase-0001", "new-field-passphrase-0002"
SECRET = "hypertension-and-zolpidem"


def _keys(tmp_path: Path, current: str, *old: str) -> KeySet:
    files = []
    for i, secret in enumerate(old):
        path = tmp_path / f"old{i}.key"
        path.write_text(secret)
        files.append(path)
    keys = KeySet.from_config(EncryptionConfig(key=current, old_key_files=tuple(files)))
    assert keys is not None
    return keys


def _fact(user: str, key: str, value: str) -> ProfileFact:
    return ProfileFact(id=f"{user}-{key}", user_id=user, key=key, value=value,
                       category="medical", source_memory_ids=[], valid_from=datetime.now(UTC))


async def _raw_values(url: str, schema: str) -> list[str]:
    parts = urlsplit(url)
    dsn = urlunsplit(parts._replace(query=urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"])))
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return [str(r[0]) for r in await conn.fetch(
            f'SELECT value::text FROM "{schema}".profile_facts ORDER BY id')]
    finally:
        await conn.close()


async def test_profile_values_are_sealed_and_rekeyed(tmp_path: Path) -> None:
    base, schema = server_url(), schema_for(tmp_path)
    await _drop_schema(base, schema)
    url = with_schema(base, schema)

    plain = open_profile(url)
    await plain.open()
    await plain.set_facts([_fact("alice", "written_plain", "before-encryption-value")])
    await plain.close()

    old = open_profile(url, keys=_keys(tmp_path, OLD))
    await old.open()
    await old.set_facts([_fact("alice", "condition", SECRET)])
    await old.close()
    raw = await _raw_values(base, schema)
    assert not any(SECRET in value for value in raw)
    assert any('"sealed": "mv1:' in value for value in raw)

    rotated = open_profile(url, keys=_keys(tmp_path, NEW, OLD))
    await rotated.open()
    try:  # the old rows stay readable before and while they are re-sealed
        values = {f.key: f.value for f in await rotated.get("alice")}
        assert values == {"condition": SECRET, "written_plain": "before-encryption-value"}
        assert await rotated.fields_to_rekey() == 2  # type: ignore[attr-defined]
        done: list[int] = []
        assert await rotated.rekey_fields(batch=1, progress=done.append) == 2  # type: ignore[attr-defined]
        assert done == [1, 1]
        assert await rotated.fields_to_rekey() == 0  # type: ignore[attr-defined]
    finally:
        await rotated.close()
    raw = await _raw_values(base, schema)
    assert not any(SECRET in v or "before-encryption-value" in v for v in raw)

    only_new = open_profile(url, keys=_keys(tmp_path, NEW))
    await only_new.open()
    assert {f.value for f in await only_new.get("alice")} == {
        SECRET, "before-encryption-value"}
    await only_new.close()

    for keys in (None, _keys(tmp_path, OLD)):
        store = open_profile(url, keys=keys)
        await store.open()
        try:
            with pytest.raises(EncryptionError) as caught:
                await store.get("alice")
            assert "\n" not in str(caught.value)
        finally:
            await store.close()


async def test_serve_checks_the_key_against_sealed_values_before_serving(
        tmp_path: Path) -> None:
    """A server whose key does not open the sealed profile values (or that has no key)
    stops before it serves, with one line naming the key setting; the right key passes."""
    from memvault.config import Config
    from memvault.core.encryption import check_keys
    from tests.interfaces.mcp_harness import MEMVAULT, STARTUP_TIMEOUT, clean_env

    base, schema = server_url(), schema_for(tmp_path)
    await _drop_schema(base, schema)
    url = with_schema(base, schema)
    store = open_profile(url, keys=_keys(tmp_path, OLD))
    await store.open()
    await store.set_facts([_fact("alice", "condition", SECRET)])
    await store.close()

    def config(**encryption: object) -> Config:
        return Config.from_flat({"database": str(tmp_path / "m.db"), "profile_url": url,
                                 "embedder": "none",
                                 **{f"encryption.{k}": v for k, v in encryption.items()}})

    await check_keys(config(key=OLD))
    old_file = tmp_path / "old.key"
    old_file.write_text(OLD)
    await check_keys(config(key=NEW, old_key_files=(old_file,)))
    with pytest.raises(EncryptionError, match="MEMVAULT_ENCRYPTION_KEY") as wrong:
        await check_keys(config(key=NEW))
    assert "the profile values in" in str(wrong.value)
    with pytest.raises(EncryptionError, match="no encryption key is configured"):
        await check_keys(config())

    import subprocess

    import anyio.to_thread

    env = clean_env({"MEMVAULT_PROFILE_URL": url, "MEMVAULT_ENCRYPTION_KEY": NEW})
    done = await anyio.to_thread.run_sync(lambda: subprocess.run(
        [str(MEMVAULT), "--database", str(tmp_path / "plain.db"), "--embedder", "none",
         "serve", "--transport", "http", "--port", "0"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=STARTUP_TIMEOUT * 2, check=False))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "MEMVAULT_ENCRYPTION_KEY" in lines[0]
    assert NEW not in lines[0]
    await _drop_schema(base, schema)


async def test_a_value_sealed_under_another_key_while_serving_answers_503(
        tmp_path: Path) -> None:
    """Another process seals a value under a key this server was not given: the routes that
    read it answer 503 naming the key setting, never 500, and the rest keeps working."""
    import httpx

    from memvault.config import Config
    from memvault.interfaces.runtime import ServeOptions
    from memvault.interfaces.serve import build_http_app

    base, schema = server_url(), schema_for(tmp_path)
    await _drop_schema(base, schema)
    url = with_schema(base, schema)
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "profile_url": url,
                               "embedder": "none", "user_id": "alice",
                               "encryption.key": OLD})
    app = build_http_app(config, ServeOptions(transport="http"))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
            timeout=30) as client:
        assert (await client.get("/v1/profile")).status_code == 200
        other = open_profile(url, keys=_keys(tmp_path, NEW))
        await other.open()
        await other.set_facts([_fact("alice", "condition", SECRET)])
        await other.close()
        response = await client.get("/v1/profile")
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["type"] == "StoreUnavailable"
        assert "MEMVAULT_ENCRYPTION_OLD_KEY_FILES" in error["message"]
        assert "\n" not in error["message"]
        assert (await client.get("/v1/memories")).status_code == 200
    await _drop_schema(base, schema)
