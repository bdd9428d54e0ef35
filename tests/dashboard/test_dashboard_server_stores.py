"""The dashboard over the server stores: FalkorDB episodic, PostgreSQL profile and Redis
working, with memories an agent added over MCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.dashboard.browser import browser_page, screenshot
from tests.interfaces.mcp_harness import call_error, call_ok, connect_http, running_server
from tests.server_stores import server_store_urls

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

@pytest.fixture
async def server_stores(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """Store URLs on a fresh graph, schema and key prefix, all three dropped afterwards."""
    async with server_store_urls(tmp_path, "ui_", ("alice",)) as urls:
        yield urls


async def test_the_dashboard_works_over_the_server_stores(
    tmp_path: Path, server_stores: dict[str, str]
) -> None:
    async with (running_server(tmp_path, "http", env=server_stores) as server,
                connect_http(server) as mcp):
        ids = []
        for session, content in (
            ("trip", "alice: I moved to Lisbon with Bob, we love the Alfama district."),
            ("food", "alice: I'm vegetarian and allergic to peanuts, please remember that."),
            ("home", "alice: I live in Porto."),
        ):
            added = await call_ok(mcp.session, "add_memory", content=content,
                                  session_id=session,
                                  profile={"city": "Porto"} if session == "home" else None)
            ids.append(added["id"])
        async with browser_page() as page:
            base = server.base + "/ui"
            await page.goto(base + "/")
            assert await page.locator("article.memory").count() == 3
            await screenshot(page, "stores-timeline")

            await page.goto(base + "/search?q=peanuts")
            hit = page.locator("li.hit").first
            assert "peanut" in (await hit.locator(".content").inner_text()).lower()
            await screenshot(page, "stores-search")

            await page.goto(f"{base}/memories/{ids[2]}")
            assert await page.get_by_text("I live in Porto").first.is_visible()
            facts = page.locator("aside ul.plain li", has_text="city")
            assert "Porto" in await facts.inner_text()  # the fact it is the source of
            await screenshot(page, "stores-memory")

            await page.goto(base + "/profile")
            await page.get_by_role("textbox", name="Fact").fill("city")
            await page.get_by_role("textbox", name="Value").fill("Lisbon")
            await page.get_by_role("button", name="Save").click()
            await page.wait_for_url(base + "/profile")
            assert await page.locator("td", has_text="Lisbon").count() == 1
            page.once("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="Forget city").click()
            await page.wait_for_url(base + "/profile?forgotten=1")
            assert await page.locator("td", has_text="Lisbon").count() == 0
            profile = await call_ok(mcp.session, "get_profile", include_history=True)
            assert "city" not in {f["key"] for f in profile["facts"]}
            assert {"Porto", "Lisbon"} <= {f["value"] for f in profile["history"]}
            await screenshot(page, "stores-profile")

            await page.goto(f"{base}/memories/{ids[1]}")
            page.once("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="Delete this memory").click()
            await page.wait_for_url(base + "/?deleted=1")
            assert await page.locator("article.memory").count() == 2
            await call_error(mcp.session, "get_memory", memory_id=ids[1])

            await page.goto(base + "/housekeeping")
            assert await page.get_by_text("falkordb").first.is_visible()
            assert await page.get_by_text("postgres").first.is_visible()
            assert await page.get_by_text("redis").first.is_visible()
            await screenshot(page, "stores-housekeeping")
            assert page.problems == [], page.problems
