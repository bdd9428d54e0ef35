"""Switch user: an admin credential looks at another user's memories; no other scope can,
whatever it forges."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from memvault.config import Config
from memvault.core.keys import open_keys
from tests.dashboard.browser import browser_page, screenshot
from tests.interfaces.mcp_harness import running_server

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

ADMIN = "admin-token-0123456789abcdef"


def _csrf(html: str) -> str:
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert token is not None
    return token.group(1)


async def test_an_admin_switches_user_and_a_write_key_cannot(tmp_path: Path) -> None:
    async with running_server(tmp_path, "http", token=ADMIN,
                              env={"MEMVAULT_KEYS": "1"}) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            for user, text in (("alice", "alice diary entry"), ("bob", "bob secret plan")):
                made = await http.post("/v1/memories", json={"content": text}, headers={
                    "Authorization": f"Bearer {ADMIN}", "X-User-ID": user})
                assert made.status_code == 201, made.text
            bobs = made.json()["id"]
        config = Config.from_flat({"database": str(tmp_path / "m.db"), "embedder": "none"})
        async with open_keys(config) as service:
            _, writer = await service.create(user_id="alice", scope="write")

        async with browser_page() as page:
            await page.goto(server.base + "/ui/login")
            await page.get_by_label("Key").fill(ADMIN)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(server.base + "/ui/")
            assert await page.get_by_text("alice diary entry").is_visible()
            await page.goto(server.base + "/ui/housekeeping")
            options = page.locator("#known-users option")
            assert {await o.get_attribute("value") for o in await options.all()} == {
                "alice", "bob"}
            await screenshot(page, "housekeeping-admin")
            await page.get_by_role("combobox", name="User").fill("bob")
            await page.get_by_role("button", name="Switch user").click()
            await page.wait_for_url(server.base + "/ui/")
            assert await page.get_by_text("bob secret plan").is_visible()
            assert await page.get_by_text("alice diary entry").count() == 0
            await screenshot(page, "switched-user")
            await page.goto(f"{server.base}/ui/memories/{bobs}")
            assert await page.get_by_text("bob secret plan").first.is_visible()
            await page.get_by_role("button", name="Back to alice").click()
            await page.wait_for_url(server.base + "/ui/")
            assert await page.get_by_text("alice diary entry").is_visible()
            assert await page.get_by_text("bob secret plan").count() == 0
            assert page.problems == [], page.problems

        async with httpx.AsyncClient(base_url=server.base) as http:
            login = await http.get("/ui/login")
            signed = await http.post("/ui/login", data={"csrf": _csrf(login.text),
                                                       "key": writer})
            assert signed.status_code == 303
            housekeeping = await http.get("/ui/housekeeping")
            assert "Switch user" not in housekeeping.text
            refused = await http.post("/ui/switch", data={
                "csrf": _csrf(housekeeping.text), "user": "bob"})
            assert refused.status_code == 403
            assert "memvault_view_as" not in refused.headers.get("set-cookie", "")
            http.cookies.set("memvault_view_as", "bob", path="/ui")  # forged
            for path in ("/ui/", "/ui/?user=bob", "/ui/?user_id=bob"):
                timeline = await http.get(path)
                assert "alice diary entry" in timeline.text, path
                assert "bob secret plan" not in timeline.text, path
            assert (await http.get(f"/ui/memories/{bobs}")).status_code == 404
            deleted = await http.post(f"/ui/memories/{bobs}/delete",
                                      data={"csrf": _csrf(timeline.text)})
            assert deleted.status_code == 404
        async with httpx.AsyncClient(base_url=server.base) as http:
            still = await http.get(f"/v1/memories/{bobs}", headers={
                "Authorization": f"Bearer {ADMIN}", "X-User-ID": "bob"})
            assert still.status_code == 200
