"""The dashboard in a real browser: the overview shows the releases, a task finished by
another process (the ``oar`` CLI) changes its cell within 2 s without a reload, and
Approve on the release page resolves the approval; at phone width the heatmap lists each
release's tasks without scrolling sideways. Screenshots are written as artefacts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from oar.release.checklist import TaskStatus
from oar.release.state import ReleaseState
from oar.service import Service
from oar.settings import Settings
from oar.web import create_app
from tests.browser.conftest import REPO, no_serious_violations
from tests.conftest import fast_environment
from tests.live_server import live_server

RELEASE = "4.18.3"
OTHER = "4.17.9"


async def _oar(*args: str, env: dict[str, str]) -> str:
    """Run the ``oar`` CLI as another process, to its end."""
    process = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "oar"),
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_the_overview_goes_live_and_approve_works_in_the_browser(
    service: Service, settings: Settings, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    state = ReleaseState(service.db)
    await state.start_task(RELEASE, "take-ownership", actor="alice", interface="cli")
    await state.set_task_status(
        OTHER, "create-test-report", TaskStatus.PASS, actor="bob", interface="cli"
    )
    await state.add_issue(RELEASE, "payload images missing", actor="alice")
    approval_id = await service.approvals.request_approval(
        f"{RELEASE} OCPBUGS-7", "drop_bug", {"release": RELEASE, "bug": "OCPBUGS-7"}, 600
    )
    env = {"PATH": "/usr/bin:/bin", **fast_environment(settings.database_url, tmp_path / "data")}

    async with live_server(create_app(service, owns_service=False)) as port:
        base = f"http://127.0.0.1:{port}"
        context: Any = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(f"{base}/")
        await expect(page.locator(f'tr[data-release="{RELEASE}"] th a')).to_have_text(RELEASE)
        await expect(page.locator(f'tr[data-release="{OTHER}"]')).to_be_visible()
        await expect(page.locator("#live-status")).to_have_text("Live")
        cell = page.locator(f'tr[data-release="{RELEASE}"] td[data-task="take-ownership"]')
        await expect(cell).to_have_attribute("data-status", "In Progress")
        await page.screenshot(path=screenshots / "overview-1280.png", full_page=True)
        marker = await page.evaluate("() => (window.__notReloaded = true)")
        assert marker is True

        await _oar("-r", RELEASE, "task", "take-ownership", "-s", "Pass", env=env)
        finished = time.monotonic()
        await expect(
            page.locator(f'tr[data-release="{RELEASE}"] td[data-task="take-ownership"]')
        ).to_have_attribute("data-status", "Pass", timeout=2000)
        assert time.monotonic() - finished < 2.5
        assert await page.evaluate("() => window.__notReloaded === true")  # no reload

        await page.goto(f"{base}/releases/{RELEASE}")
        await page.screenshot(path=screenshots / "release-1280.png", full_page=True)
        form = page.locator(f'article[data-approval="{approval_id}"]')
        await form.get_by_label("Your name").fill("Dana")
        # A live refresh while typing keeps what was typed.
        await state.add_issue(RELEASE, "a second blocker", actor="alice")
        await expect(page.get_by_text("a second blocker")).to_be_visible(timeout=2000)
        await expect(form.get_by_label("Your name")).to_have_value("Dana")
        await form.get_by_role("button", name="Approve").click()
        await expect(page.locator(f'article[data-approval="{approval_id}"]')).to_have_count(0)
        info = await service.approvals.get(approval_id)
        assert info.resolution is not None
        assert (info.resolution.value, info.resolved_via) == ("approved", "dashboard")

        phone: Any = await browser.new_context(viewport={"width": 390, "height": 844})
        small = await phone.new_page()
        await small.goto(f"{base}/releases/{RELEASE}")
        await expect(small.get_by_role("heading", name="Checklist")).to_be_visible()
        width = await small.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the release page scrolls sideways at phone width ({width}px)"
        await small.screenshot(path=screenshots / "release-390.png", full_page=True)
        await phone.close()
        await context.close()


async def test_at_phone_width_the_overview_lists_each_task_with_its_status_without_scrolling(
    service: Service, browser: Browser, screenshots: Path
) -> None:
    """At 390 px the heatmap is one card per release listing its tasks, each with its name,
    symbol and status word (colour is not the only signal), reachable with Tab; nothing
    scrolls sideways, not even inside the heatmap's box. At 1280 px it is still the table."""
    state = ReleaseState(service.db)
    await state.set_task_status(
        RELEASE, "take-ownership", TaskStatus.PASS, actor="alice", interface="cli"
    )
    await state.start_task(RELEASE, "update-bug-list", actor="bob", interface="slack")
    await state.set_task_status(
        RELEASE, "check-cve-tracker-bug", TaskStatus.FAIL, actor="carol", interface="cli"
    )
    await state.set_task_status(
        RELEASE, "check-greenwave-cvp-tests", TaskStatus.CANCELLED, actor="dana", interface="cli"
    )
    await state.set_task_status(
        OTHER, "create-test-report", TaskStatus.PASS, actor="bob", interface="cli"
    )
    heatmap = '[role="region"][aria-label="Releases by checklist task"]'

    async with live_server(create_app(service, owns_service=False)) as port:
        base = f"http://127.0.0.1:{port}"
        phone: Any = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await phone.new_page()
        await page.goto(f"{base}/")
        await expect(page.locator(f'tr[data-release="{RELEASE}"] th a')).to_be_visible()
        region = page.locator(heatmap)
        sizes = await region.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert sizes[0] <= sizes[1], f"the heatmap scrolls sideways at 390 px: {sizes}"
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the overview scrolls sideways at 390 px ({width}px)"

        info = await state.get(RELEASE)
        cells = page.locator(f'tr[data-release="{RELEASE}"] td.cell')
        assert await cells.count() == len(info.tasks)
        symbols = {"Pass": "✓", "Fail": "✗", "Cancelled": "⊘", "In Progress": "…"}
        # Read in one go in the page: a live refresh may swap the cells between two reads.
        seen = await cells.evaluate_all(
            """cells => Object.fromEntries(cells.map(c => {
                const box = c.getBoundingClientRect();
                const shown = getComputedStyle(c, '::before').content + ' ' + c.innerText;
                return [c.dataset.task, {left: box.left, right: box.right,
                                         height: box.height, shown: shown}];
            }))"""
        )
        for task in info.tasks:
            cell = seen[task.name]
            assert cell["height"] > 0, (task.name, cell)  # shown
            assert cell["left"] >= 0, (task.name, cell)
            assert cell["right"] <= 390, (task.name, cell)
            symbol = symbols.get(task.status.value, "·")
            assert cell["shown"] == f'"{task.name}" {symbol} {task.status.value}', cell
        assert {t.status for t in info.tasks} >= {
            TaskStatus.PASS,
            TaskStatus.FAIL,
            TaskStatus.CANCELLED,
            TaskStatus.IN_PROGRESS,
            TaskStatus.NOT_STARTED,
        }

        # The keyboard reaches the cells in order, from the release's link on.
        await page.locator(f'tr[data-release="{RELEASE}"] th a').focus()
        await page.keyboard.press("Tab")
        focused = await page.evaluate("() => document.activeElement.dataset.task")
        assert focused == info.tasks[0].name
        await no_serious_violations(page, "the overview at 390 px")
        await page.screenshot(path=screenshots / "overview-heatmap-390.png", full_page=True)
        await phone.close()

        wide: Any = await browser.new_context(viewport={"width": 1280, "height": 900})
        table = await wide.new_page()
        await table.goto(f"{base}/")
        await expect(table.locator(".heatmap th.task-name").first).to_be_visible()
        await expect(table.locator(".heatmap .word").first).to_be_hidden()
        await no_serious_violations(table, "the overview at 1280 px")
        await wide.close()
