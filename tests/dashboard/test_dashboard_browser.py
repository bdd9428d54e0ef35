"""The dashboard in a real browser, against a real ``memvault serve`` whose memories an
agent added over MCP: what a person sees, and that what they change reaches the agent."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from memvault.config import Config
from memvault.core.keys import open_keys
from tests.dashboard.browser import browser_page, screenshot
from tests.interfaces.mcp_harness import call_error, call_ok, connect_http, running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

TURNS = [
    ("trip", "alice: I moved to Lisbon last month with Bob, we love the Alfama district."),
    ("trip", "assistant: Lisbon is lovely. Do you still work with Acme from there?"),
    ("trip", "alice: Yes, Acme lets me work remotely. Bob works at Feedzai now."),
    ("food", "alice: I'm vegetarian and allergic to peanuts, please remember that."),
    ("food", "assistant: Noted: vegetarian, and a peanut allergy."),
    ("hike", "alice: Planning a hiking trip to Sintra with Carla and Bob in May."),
]


async def test_a_person_sees_and_corrects_what_an_agent_stored(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, connect_http(server) as mcp:
        ids = []
        for session, content in TURNS:
            added = await call_ok(mcp.session, "add_memory", content=content,
                                  session_id=session, profile=None)
            ids.append(added["id"])
        await call_ok(mcp.session, "add_memory", content="alice: I live in Porto.",
                      session_id="home", profile={"city": "Porto"})
        async with browser_page() as page:
            base = server.base + "/ui"

            await page.goto(server.base + "/")  # the root sends a browser to the dashboard
            assert page.url.rstrip("/") == base
            assert await page.locator("article.memory").count() == len(TURNS) + 1
            assert await page.get_by_text("Planning a hiking trip to Sintra").is_visible()
            await screenshot(page, "timeline")

            await page.goto(base + "/search?q=peanuts")
            hits = page.locator("li.hit")
            assert await hits.count() >= 1
            first = hits.first
            assert "peanut" in (await first.locator(".content").inner_text()).lower()
            assert await first.locator("mark").count() >= 1
            await first.locator("summary", has_text="Why this result").click()
            assert await first.locator("dt", has_text="Words").is_visible()
            await screenshot(page, "search")

            await page.goto(base + "/profile")
            assert await page.locator("td", has_text="Porto").count() == 1
            await page.get_by_role("textbox", name="Fact").fill("city")
            await page.get_by_role("textbox", name="Value").fill("Lisbon")
            await page.get_by_role("button", name="Save").click()
            await page.wait_for_url(base + "/profile")
            assert await page.locator("td", has_text="Lisbon").count() == 1
            await page.locator("summary", has_text="city").click()
            history = page.locator("details.history", has_text="city")
            assert "Porto" in await history.inner_text()
            await screenshot(page, "profile")
            page.once("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="Forget city").click()
            await page.wait_for_url(base + "/profile?forgotten=1")
            assert await page.locator("td", has_text="Lisbon").count() == 0
            await page.locator("summary", has_text="city").click()
            history = page.locator("details.history", has_text="city")
            assert "forgotten" in await history.inner_text()
            await screenshot(page, "profile-forgotten")
            profile = await call_ok(mcp.session, "get_profile", include_history=True)
            assert "city" not in {f["key"] for f in profile["facts"]}
            assert "Lisbon" in {f["value"] for f in profile["history"]}
            await page.get_by_role("textbox", name="Fact").fill("city")
            await page.get_by_role("textbox", name="Value").fill("Lisbon")
            await page.get_by_role("button", name="Save").click()
            await page.wait_for_url(base + "/profile")
            profile = await call_ok(mcp.session, "get_profile")
            assert {f["key"]: f["value"] for f in profile["facts"]}["city"] == "Lisbon"

            doomed = ids[3]
            await page.goto(f"{base}/memories/{doomed}")
            assert await page.get_by_text("allergic to peanuts").first.is_visible()
            await page.get_by_role("textbox", name="Content").fill(
                "alice: I'm vegetarian and allergic to peanuts and shellfish.")
            await page.get_by_role("button", name="Save correction").click()
            await page.wait_for_url(f"{base}/memories/{doomed}?edited=1")
            assert await page.get_by_text("replaced").count() == 1
            corrected = await call_ok(mcp.session, "get_memory", memory_id=doomed)
            assert "shellfish" in corrected["content"]
            await screenshot(page, "memory")
            page.once("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="Delete this memory").click()
            await page.wait_for_url(base + "/?deleted=1")
            assert await page.get_by_text("allergic to peanuts").count() == 0
            await call_error(mcp.session, "get_memory", memory_id=doomed)

            await page.goto(base + "/graph")
            await page.locator("#graph g.node").first.wait_for(timeout=10_000)
            assert await page.locator("#graph g.node", has_text="bob").count() == 1
            await screenshot(page, "graph")

            await page.goto(base + "/housekeeping")
            assert await page.get_by_text("sqlite").first.is_visible()
            await screenshot(page, "housekeeping")

            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(base + "/")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the timeline scrolls sideways on a phone ({width}px)"
            await screenshot(page, "timeline-phone")
            assert page.problems == [], page.problems


async def test_forged_posts_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http") as server, connect_http(server) as mcp:
        added = await call_ok(mcp.session, "add_memory", content="alice: keep me")
        url = f"{server.base}/ui/memories/{added['id']}/delete"
        async with httpx.AsyncClient() as http:
            bare = await http.post(url)
            assert bare.status_code == 403
            page = await http.get(server.base + "/ui/")  # a cookie, but no token
            with_cookie = await http.post(url, data={"csrf": "0" * 64})
            assert with_cookie.status_code == 403
            cross = await http.post(url, data={"csrf": "x"},
                                    headers={"Sec-Fetch-Site": "cross-site"})
            assert cross.status_code == 403
            assert page.status_code == 200
        assert (await call_ok(mcp.session, "get_memory", memory_id=added["id"]))["id"]


async def test_a_server_with_a_key_asks_the_browser_to_sign_in(tmp_path: Path) -> None:
    token = "s3cret-token-for-the-dashboard"
    async with running_server(tmp_path, "http", token=token) as server:
        async with httpx.AsyncClient() as http:
            for path in ("/ui/", "/ui/graph.json", "/ui/export.jsonl"):
                response = await http.get(server.base + path)
                assert response.status_code == 303, path
                assert response.headers["location"] == "/ui/login"
            assert (await http.get(server.base + "/v1/memories")).status_code == 401
        async with browser_page() as page:
            await page.goto(server.base + "/ui/")
            assert page.url.endswith("/ui/login")
            await page.get_by_label("Key").fill("wrong-key")
            await page.get_by_role("button", name="Sign in").click()
            assert await page.get_by_role("alert").is_visible()
            await screenshot(page, "login")
            page.problems.clear()  # the refused sign-in's 401, which the console reports
            await page.get_by_label("Key").fill(token)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(server.base + "/ui/")
            assert await page.get_by_role("heading", name="Timeline").is_visible()
            # The sign-in cookie opens the dashboard only, never the API.
            cookies = await page.context.cookies()
            jar = {c["name"]: c["value"] for c in cookies}
            async with httpx.AsyncClient(cookies=jar) as http:
                assert (await http.get(server.base + "/v1/memories")).status_code == 401
            assert page.problems == [], page.problems


async def _sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await http.get("/ui/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return await http.post("/ui/login", data={"csrf": token.group(1), "key": key})


async def test_a_key_shows_its_own_user_and_a_read_key_changes_nothing(tmp_path: Path) -> None:
    admin = "admin-token-0123456789abcdef"
    async with running_server(tmp_path, "http", token=admin,
                              env={"MEMVAULT_KEYS": "1"}) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            for user, text in (("alice", "alice diary entry"), ("bob", "bob secret plan")):
                made = await http.post("/v1/memories", json={"content": text}, headers={
                    "Authorization": f"Bearer {admin}", "X-User-ID": user})
                assert made.status_code == 201, made.text
            bobs = made.json()["id"]
        config = Config.from_flat({"database": str(tmp_path / "m.db"),
                                   "embedder": "none"})
        async with open_keys(config) as service:
            _, reader = await service.create(user_id="alice", scope="read")
        async with httpx.AsyncClient(base_url=server.base) as http:
            signed = await _sign_in(http, reader)
            assert signed.status_code == 303
            timeline = await http.get("/ui/")
            assert "alice diary entry" in timeline.text
            assert "bob secret plan" not in timeline.text
            assert (await http.get(f"/ui/memories/{bobs}")).status_code == 404
            page = await http.get("/ui/profile")
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert token is not None
            refused = await http.post("/ui/profile", data={
                "csrf": token.group(1), "key": "city", "value": "Oslo"})
            assert refused.status_code == 403
            assert "Oslo" not in (await http.get("/ui/profile")).text
