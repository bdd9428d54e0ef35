"""A real browser for the dashboard tests: Debian's Chromium driven by Playwright, never a
downloaded one. Missing either skips with the reason (fails under ``CI=true``).

Screenshots go to ``$MEMVAULT_SCREENSHOTS`` (default ``build/screenshots``), kept as
artifacts of the run, not committed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.services import unavailable

__all__ = ["CHROMIUM", "browser_page", "screenshot"]

CHROMIUM = os.environ.get("MEMVAULT_CHROMIUM", "/usr/bin/chromium")
_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update"]
_SHOTS = Path(os.environ.get("MEMVAULT_SCREENSHOTS", "build/screenshots"))


@contextlib.asynccontextmanager
async def browser_page(width: int = 1280, height: int = 800) -> AsyncIterator[Any]:
    """A fresh page in a headless Chromium; console errors and CSP violations fail the
    test that caused them (collected on ``page.problems``)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("playwright", "pip install playwright (the dev extra has it)")
    if shutil.which(CHROMIUM) is None:
        unavailable("chromium", f"{CHROMIUM} not found: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=_FLAGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.problems = problems
            yield page
        finally:
            await browser.close()


async def screenshot(page: Any, name: str) -> Path:
    path = _SHOTS / f"{name}.png"  # the page makes the folder
    await page.screenshot(path=str(path), full_page=True)
    return path
