"""The dashboard shows a typed memory's type and data, and filters the timeline by type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.test_memory_types import TYPES
from tests.dashboard.browser import browser_page, screenshot
from tests.interfaces.mcp_harness import call_ok, connect_http, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


async def test_typed_memories_show_their_type_and_data(tmp_path: Path) -> None:
    env = {"MEMVAULT_TYPES": json.dumps(TYPES)}
    async with (browser_page() as page, running_server(tmp_path, "http", env=env) as server,
                connect_http(server) as mcp):
        typed = await call_ok(mcp.session, "add_memory", type="medication",
                              data={"name": "Metformin", "dose": "500 mg"})
        await call_ok(mcp.session, "add_memory", content="Lunch with Dana on Friday")
        await page.goto(server.base + "/ui/")
        await page.get_by_label("Type").select_option("medication")
        await page.get_by_role("button", name="Filter").click()
        await page.wait_for_url("**type=medication**")
        cards = page.locator("article.memory")
        assert await cards.count() == 1
        text = await cards.first.inner_text()
        assert "medication" in text, text
        assert "Metformin" in text, text
        await page.goto(server.base + f"/ui/memories/{typed['id']}")
        data = json.loads(await page.get_by_label("typed data").inner_text())
        assert data == {"name": "Metformin", "dose": "500 mg"}
        await screenshot(page, "memory-typed")
        assert page.problems == [], page.problems
