"""The dashboard's actions in a real browser, one server walked through a release's day.

Add a release (a bad name is refused, saying why), hide it and show it again; report a
blocker on the release page and see it in ``oar -r X status`` (the CLI as another
process), then resolve it; approve a workflow's approval on the page and see the workflow
finish; on ``/operations`` retry a dead task and cancel a waiting one, and see a task
started elsewhere appear without a reload; ``/docs`` renders from local assets only.
Every main page is screenshot at 1280 and 390 px and checked with axe-core (no serious
or critical violation).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Route, expect

from oar.engine import TaskContext, TaskStatus, task
from oar.engine.approvals import ApprovalStatus
from oar.release.checklist import ReleaseMetadata
from oar.release.state import ReleaseState
from oar.service import Service
from oar.settings import Settings
from oar.web import create_app
from tests.browser.conftest import REPO, no_serious_violations
from tests.conftest import fast_environment
from tests.live_server import live_server
from tests.waiting import eventually

RELEASE = "4.18.3"
ADDED = "4.16.5"
_FLAKY_RUNS: dict[str, int] = {}


@task("test.browser.flaky", retries=0, timeout=30)
async def flaky(ctx: TaskContext) -> str:
    """Fails on its first run only: dead at first, succeeds when retried."""
    _FLAKY_RUNS[ctx.task_id] = _FLAKY_RUNS.get(ctx.task_id, 0) + 1
    if _FLAKY_RUNS[ctx.task_id] == 1:
        raise RuntimeError("the first run fails")
    return "fine"


@task("test.browser.waits", durable=True, retries=0, timeout=300)
async def waits(ctx: TaskContext) -> Any:
    """Runs until it is told to stop (or cancelled)."""
    return await ctx.wait_message("go", 240)


@task("test.browser.gate", durable=True, retries=0, timeout=120)
async def gate(ctx: TaskContext) -> Any:
    """A workflow waiting on a human's decision about the release."""
    assert isinstance(ctx.payload, dict)
    decision = await ctx.approval("release_gate", {"release": ctx.payload["release"]})
    return dict(decision)


async def _oar(*args: str, env: dict[str, str]) -> str:
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


async def _task_status(service: Service, task_id: str) -> TaskStatus:
    return (await service.tasks.get(task_id)).status


async def _has_status(service: Service, task_id: str, status: TaskStatus) -> bool:
    return await _task_status(service, task_id) is status


async def test_the_dashboard_drives_releases_approvals_and_operations(
    service: Service, settings: Settings, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    state = ReleaseState(service.db)
    metadata = ReleaseMetadata(
        release=RELEASE,
        y_stream="4.18",
        jira_ticket="ART-1234",
        advisory_ids={"extras": 1002, "image": 1001},
        candidate_builds={"x86_64": "4.18.3-x86_64", "aarch64": "4.18.3-aarch64"},
        shipment_mr="https://gitlab.example/ocp/shipment/-/merge_requests/7",
    )
    await state.ensure_release(RELEASE, metadata)
    await state.start_task(RELEASE, "take-ownership", actor="alice", interface="cli")
    dead = await service.tasks.enqueue("test.browser.flaky", {})
    waiting = await service.tasks.enqueue("test.browser.waits", {})
    gated = await service.tasks.enqueue("test.browser.gate", {"release": RELEASE})
    await eventually(lambda: _task_status(service, dead), what="the flaky task to run")
    await eventually(
        lambda: service.approvals.list(status=ApprovalStatus.PENDING, limit=10),
        what="the gate's approval",
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        **fast_environment(settings.database_url, tmp_path / "data"),
    }

    async with live_server(create_app(service, owns_service=False)) as port:
        base = f"http://127.0.0.1:{port}"
        context: Any = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()

        # --- overview: add a release (a bad name first), hide it, show it again ----------
        await page.goto(f"{base}/")
        await page.get_by_label("Release (x.y.z)").fill("4.16")
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page.get_by_role("alert")).to_contain_text("invalid release '4.16'")
        await page.get_by_label("Release (x.y.z)").fill(ADDED)
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page).to_have_url(f"{base}/releases/{ADDED}")
        await page.goto(f"{base}/")
        await expect(page.locator("#live-status")).to_have_text("Live")
        await page.get_by_role("button", name=f"Hide {ADDED}").click()
        await expect(page.locator(f'tr[data-release="{ADDED}"]')).to_have_count(0)
        assert ADDED in await state.hidden()
        await page.get_by_text("Hidden releases (1)").click()
        await page.get_by_role("button", name=f"Show {ADDED}").click()
        await expect(page.locator(f'tr[data-release="{ADDED}"]')).to_be_visible()
        assert await state.hidden() == {}

        # --- release page: a blocker reported here is what `oar status` shows -------------
        await page.goto(f"{base}/releases/{RELEASE}")
        await expect(page.locator('tr[data-arch="aarch64"]')).to_contain_text("4.18.3-aarch64")
        await expect(page.locator('tr[data-advisory="1001"]')).to_contain_text("image")
        await page.get_by_label("What is wrong").fill("etcd-image-missing on arm64")
        await page.get_by_label("Your name (recorded as the reporter)").fill("Erin")
        await page.get_by_role("button", name="Report").click()
        blocker = page.locator("li.blocker", has_text="etcd-image-missing")
        await expect(blocker).to_contain_text("reported by Erin via local")
        status = await _oar("-r", RELEASE, "status", env=env)
        assert "etcd-image-missing" in status, status
        assert "BLOCKED" in status
        issue_id = (await state.get(RELEASE)).open_blockers[0].id
        await page.get_by_label(f"Resolution of #{issue_id}").fill("rebuilt")
        await page.get_by_role("button", name=f"Resolve #{issue_id}").click()
        await expect(page.locator("li.resolved", has_text="etcd-image-missing")).to_contain_text(
            "resolved by local: rebuilt"
        )

        # --- approve the waiting workflow's approval; the workflow finishes ---------------
        approval = page.locator("article.approval")
        await expect(approval).to_have_count(1)
        await no_serious_violations(page, "the release page with an approval")
        await page.screenshot(path=screenshots / "release-approval-1280.png", full_page=True)
        await approval.get_by_label("Your name").fill("Dana")
        await approval.get_by_role("button", name="Approve").click()
        await expect(page.locator("article.approval")).to_have_count(0)
        await eventually(
            lambda: _has_status(service, gated, TaskStatus.SUCCEEDED),
            what="the gated workflow to continue and finish",
        )
        result = (await service.tasks.get(gated)).result
        assert isinstance(result, dict), result
        assert result["resolution"] == "approved", result

        # --- operations: retry the dead task, cancel the waiting one, live rows -----------
        assert await _task_status(service, dead) in (TaskStatus.DEAD, TaskStatus.FAILED)
        await page.goto(f"{base}/operations")
        await expect(page.locator("#live-status")).to_have_text("Live")
        await page.evaluate("() => (window.__notReloaded = true)")
        row = page.locator(f'tr[data-task-id="{dead}"] td.task-status')
        await page.get_by_role("button", name=f"Retry {dead}").click()
        await expect(row).to_have_attribute("data-status", "succeeded")
        await page.evaluate("() => (window.__notReloaded = true)")
        await page.get_by_role("button", name=f"Cancel {waiting}").click()
        await expect(
            page.locator(f'tr[data-task-id="{waiting}"] td.task-status')
        ).to_have_attribute("data-status", "cancelled")
        await page.evaluate("() => (window.__notReloaded = true)")
        elsewhere = await service.tasks.enqueue("test.browser.flaky", {})
        await expect(
            page.locator(f'tr[data-task-id="{elsewhere}"] td.task-status')
        ).to_have_attribute("data-status", "dead")  # run, failed, shown: no reload
        assert await page.evaluate("() => window.__notReloaded === true")  # no reload
        await page.get_by_label("Status").select_option("cancelled")
        # A change re-renders the section before the reader clicks Filter: the status they
        # picked stays picked (it was reset to "every status", and the filter did nothing).
        meanwhile = await service.tasks.enqueue("test.browser.flaky", {})
        await expect(page.locator(f'tr[data-task-id="{meanwhile}"]')).to_be_visible()
        await expect(page.get_by_label("Status")).to_have_value("cancelled")
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(f"{base}/operations?status=cancelled")
        await expect(page.locator(f'tr[data-task-id="{waiting}"]')).to_be_visible()
        await expect(page.locator(f'tr[data-task-id="{dead}"]')).to_have_count(0)
        # Only cancelled tasks (a shared PostgreSQL database may hold other tests' ones).
        shown = page.locator("tr[data-task-id] td.task-status")
        statuses = await shown.evaluate_all("cells => cells.map(c => c.dataset.status)")
        assert set(statuses) == {"cancelled"}, statuses  # the waiting one is among them

        # --- every main page: screenshots at both widths, axe, no sideways scroll ---------
        pages = {"overview": "/", "release": f"/releases/{RELEASE}", "operations": "/operations"}
        for width, height in ((1280, 900), (390, 844)):
            sized: Any = await browser.new_context(viewport={"width": width, "height": height})
            view = await sized.new_page()
            for name, path in pages.items():
                await view.goto(f"{base}{path}")
                await expect(view.locator("h1").first).to_be_visible()
                scroll = await view.evaluate("() => document.documentElement.scrollWidth")
                assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px)"
                await view.screenshot(path=screenshots / f"{name}-{width}.png", full_page=True)
                if width == 1280:
                    await no_serious_violations(view, path)
            await sized.close()

        # --- /docs: Swagger UI from local assets, nothing asked of another host ------------
        outside: list[str] = []

        async def only_loopback(route: Route) -> None:
            if route.request.url.startswith(f"{base}/"):
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        await page.route("**/*", only_loopback)
        await page.goto(f"{base}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("OAR")
        await expect(page.locator(".opblock-tag-section").first).to_be_visible()
        await page.screenshot(path=screenshots / "docs-1280.png", full_page=False)
        assert outside == [], json.dumps(outside)
        await context.close()
