"""What a registry and a new user read: server.json, the README's mcp-name marker and tool
table, all in step with the code."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from memvault.__version__ import __version__
from memvault.config import ENV_KEYS
from tests.interfaces.mcp_harness import inprocess_client

ROOT = Path(__file__).resolve().parent.parent
SERVER_JSON = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCHEMA_VERSION = "2025-12-11"


def test_server_json_follows_the_registry_schema() -> None:
    bundled = resources.files("skillsaw") / "schemas" / "mcp_registry"
    schema = json.loads((bundled / f"v{SCHEMA_VERSION.replace('-', '_')}" /
                         "server.schema.json").read_text(encoding="utf-8"))
    assert SERVER_JSON["$schema"].endswith(f"/{SCHEMA_VERSION}/server.schema.json")
    jsonschema.validate(SERVER_JSON, schema)
    # the official registry's own limit, beyond the schema
    assert len(SERVER_JSON["description"]) <= 100


def test_server_json_names_this_version_and_real_settings() -> None:
    assert SERVER_JSON["version"] == __version__
    (package,) = SERVER_JSON["packages"]
    assert (package["identifier"], package["version"]) == ("memvault", __version__)
    for variable in package["environmentVariables"]:
        assert variable["name"] in ENV_KEYS, variable["name"]


def test_readme_carries_the_registry_name() -> None:
    assert f"mcp-name: {SERVER_JSON['name']}" in README


def _readme_tools() -> dict[str, list[str]]:
    section = README.split("## The tools", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", section, flags=re.MULTILINE)
    return {name: [a.strip() for a in args.split(",") if a.strip()] for name, args in rows}


@pytest.fixture
async def listed(tmp_path: Path) -> AsyncIterator[list[Any]]:
    async with inprocess_client(tmp_path / "m.db") as client:
        yield (await client.list_tools()).tools


@pytest.mark.anyio
async def test_readme_tool_table_matches_tools_list(listed: list[Any]) -> None:
    advertised = {}
    for tool in listed:
        schema = tool.input_schema
        required = set(schema.get("required", []))
        advertised[tool.name] = [
            name if name in required else f"{name}?" for name in schema["properties"]]
    assert _readme_tools() == advertised
