"""The timeline's date range, in a browser: from the start of one day to the end of another."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.browser import browser_page, screenshot
from tests.interfaces.mcp_harness import call_ok, connect_http, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


async def test_the_timeline_filters_by_a_date_range(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, connect_http(server) as mcp:
        for day, text in (("2026-03-01T09:00:00Z", "march first"),
                          ("2026-03-02T23:59:00Z", "march second late"),
                          ("2026-03-03T00:00:00Z", "march third")):
            await call_ok(mcp.session, "add_memory", content=text, occurred_at=day)
        async with browser_page() as page:
            await page.goto(server.base + "/ui/")
            await page.get_by_label("From").fill("2026-03-02")
            await page.get_by_label("To").fill("2026-03-02")
            await page.get_by_role("button", name="Filter").click()
            await page.wait_for_url("**/ui/?*since=2026-03-02*")
            shown = await page.locator("article.memory .content").all_inner_texts()
            assert shown == ["march second late"]
            assert await page.get_by_label("From").input_value() == "2026-03-02"
            await screenshot(page, "timeline-dates")
            await page.goto(server.base + "/ui/?since=2026-03-01&until=2026-03-02")
            shown = await page.locator("article.memory .content").all_inner_texts()
            assert shown == ["march second late", "march first"]
            assert page.problems == [], page.problems
            response = await page.goto(server.base + "/ui/?until=soon")
            assert response is not None
            assert response.status == 400
            assert await page.get_by_text("until: not a date").is_visible()
