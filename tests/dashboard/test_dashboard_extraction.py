"""The housekeeping page shows the profile-extraction queue of a server that has a model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import browser_page, screenshot
from tests.fake_chat import Scripted, facts, fake_chat
from tests.interfaces.mcp_harness import call_ok, connect_http, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


def _script(text: str, body: dict[str, Any]) -> Scripted:
    return facts({"key": "diet", "value": "vegan", "span": "vegan", "category": "preference"})


async def test_housekeeping_shows_the_extraction_queue(tmp_path: Path) -> None:
    with fake_chat(_script) as chat:
        env = {"MEMVAULT_LLM_MODEL": "scripted", "MEMVAULT_LLM_BASE_URL": chat.url,
               "MEMVAULT_LLM_RETRY_SECONDS": "0.05"}
        async with (running_server(tmp_path, "http", env=env) as server,
                    connect_http(server) as mcp):
            added = await call_ok(mcp.session, "add_memory",
                                  content="I've been vegan since March")
            await server.stderr.await_line(
                re.compile(rf"extraction of {added['id']} done"), 60.0)
            async with browser_page() as page:
                await page.goto(server.base + "/ui/housekeeping")
                queue = page.get_by_label("Extraction queue")
                assert await page.get_by_text("scripted").first.is_visible()
                text = await queue.inner_text()
                assert re.search(r"Done\s+1", text), text
                assert re.search(r"Queued\s+0", text), text
                await screenshot(page, "housekeeping-extraction")
                assert page.problems == [], page.problems


async def test_housekeeping_says_extraction_is_off_without_a_model(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, browser_page() as page:
        await page.goto(server.base + "/ui/housekeeping")
        assert await page.get_by_text("set llm.model to extract").is_visible()
