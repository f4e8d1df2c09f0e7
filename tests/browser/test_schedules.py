"""The operations page's schedules, live in a real browser: a schedule ticking in the worker,
paused by ``oarctl schedules`` (another process), resumed and run now, each shows on the
page within a second or two, without a reload."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from oar.engine.schedules import ScheduleRegistry, ScheduleRun
from oar.service import Service
from oar.settings import Settings
from oar.web import create_app
from tests.browser.conftest import REPO
from tests.conftest import fast_environment
from tests.live_server import live_server

CLOCK = "test.browser.clock"
NIGHTLY = "test.browser.nightly"


async def _oarctl(*args: str, env: dict[str, str]) -> str:
    """Run ``oarctl`` as another process, to its end."""
    process = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "oarctl"),
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


async def _run(run: ScheduleRun) -> str:
    return run.workflow_id


async def _operations(browser: Browser, base: str) -> tuple[Any, Page]:
    """The operations page, connected to the change feed, marked to tell a reload."""
    context: Any = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/operations")
    await expect(page.locator("#live-status")).to_have_text("Live")
    await page.evaluate("() => (window.__notReloaded = true)")
    return context, page


async def test_a_schedule_ticking_in_the_worker_moves_its_last_and_next_run_on_the_page(
    settings: Settings, browser: Browser, screenshots: Path
) -> None:
    registry = ScheduleRegistry()
    registry.register(CLOCK, _run, every="1s", description="Ticks every second.")
    async with (
        Service(settings, roles={"web", "worker"}, schedules=registry) as service,
        live_server(create_app(service, owns_service=False)) as port,
    ):
        context, page = await _operations(browser, f"http://127.0.0.1:{port}")
        row = page.locator(f'tr[data-schedule="{CLOCK}"]')
        await expect(row.locator("td.state")).to_have_text("active")
        last, upcoming = row.locator("td.last-run"), row.locator("td.next-run")
        await expect(last).not_to_have_text("-")  # a first tick
        for _ in range(2):  # and two more, each moving the last and the next run
            seen_last, seen_next = await last.inner_text(), await upcoming.inner_text()
            await expect(last).not_to_have_text(seen_last, timeout=3000)
            await expect(upcoming).not_to_have_text(seen_next, timeout=3000)
        await expect(row.locator("td.last-status")).to_have_text(
            re.compile(r"^(queued|running|succeeded)$")
        )
        assert await page.evaluate("() => window.__notReloaded === true")  # no reload
        await page.screenshot(path=screenshots / "operations-schedules-1280.png", full_page=True)
        await context.close()


async def test_a_schedule_paused_elsewhere_resumed_and_run_now_shows_without_a_reload(
    settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    """No schedule ticks here (daily): each change on the page is the one just made."""
    registry = ScheduleRegistry()
    registry.register(NIGHTLY, _run, every="1d", description="Once a day.")
    env = {"PATH": "/usr/bin:/bin", **fast_environment(settings.database_url, tmp_path / "data")}
    async with (
        Service(settings, roles={"web", "worker"}, schedules=registry) as service,
        live_server(create_app(service, owns_service=False)) as port,
    ):
        context, page = await _operations(browser, f"http://127.0.0.1:{port}")
        row = page.locator(f'tr[data-schedule="{NIGHTLY}"]')
        await expect(row.locator("td.state")).to_have_text("active")
        await expect(row.locator("td.last-run")).to_have_text("-")

        await _oarctl("schedules", "pause", NIGHTLY, env=env)  # another process
        await expect(row.locator("td.state")).to_have_text("paused", timeout=2000)
        await expect(row.locator("td.next-run")).to_have_text("-")

        await service.schedules.resume(NIGHTLY, actor="alice")
        await expect(row.locator("td.state")).to_have_text("active", timeout=2000)
        await expect(row.locator("td.next-run")).not_to_have_text("-")

        await _oarctl("schedules", "run-now", NIGHTLY, env=env)
        await expect(row.locator("td.last-run")).not_to_have_text("-", timeout=2000)
        await expect(row.locator("td.last-status")).to_have_text("succeeded", timeout=3000)
        assert await page.evaluate("() => window.__notReloaded === true")  # no reload
        await context.close()
