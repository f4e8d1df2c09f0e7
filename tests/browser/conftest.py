"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser).

``OAR_TEST_CHROMIUM`` names the browser (default ``/usr/bin/chromium``); without one the
tests skip, saying so. Screenshots go to ``build/screenshots`` (or
``OAR_TEST_SCREENSHOTS``) as test artefacts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("OAR_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("OAR_TEST_SCREENSHOTS") or REPO / "build" / "screenshots")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


async def no_serious_violations(page: Any, name: str) -> None:
    """axe-core (vendored, loaded into the page) finds nothing serious or critical."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    found = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}" for v in serious]
    assert not found, f"axe on {name}: " + "; ".join(found)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """A headless Chromium (skips when there is none)."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's chromium or set OAR_TEST_CHROMIUM"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()
