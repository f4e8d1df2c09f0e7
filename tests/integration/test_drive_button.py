"""The release page's drive button: the form, CSRF, a bad e-mail, and a second click
joining the running drive (the same service function as ``oar drive`` and the MCP tool)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from oar.release.checklist import TaskStatus
from oar.release.drive import drive_key
from oar.release.follows import Follows, FollowStatus
from oar.release.state import ReleaseState
from oar.service import Service
from oar.web import create_app

RELEASE = "4.18.3"
ORIGIN = {"Origin": "http://127.0.0.1"}


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service, owns_service=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


async def test_the_drive_button_starts_the_drive_once(
    service: Service, client: httpx.AsyncClient
) -> None:
    state = ReleaseState(service.db)
    await state.set_task_status(
        RELEASE, "create-test-report", TaskStatus.PASS, actor="alice", interface="cli"
    )
    path = f"/dashboard/releases/{RELEASE}/drive"
    page = (await client.get(f"/releases/{RELEASE}")).text
    assert f'action="{path}"' in page

    forged = await client.post(path, data={}, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    missing = await client.post(path, data={}, headers=ORIGIN)
    assert missing.status_code == 400
    assert "take-ownership is still to run" in missing.text
    bad = await client.post(path, data={"email": "not-an-email"}, headers=ORIGIN)
    assert bad.status_code == 400
    assert "not a valid email" in bad.text

    follows = Follows(service.db, service.tasks)
    try:
        for _ in range(2):
            answer = await client.post(path, data={"email": "qe@example.com"}, headers=ORIGIN)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/releases/{RELEASE}"
        drives = await follows.list(kind="release-drive")
        assert [(f.id, f.started_by, f.interface) for f in drives] == [
            (drive_key(RELEASE), "local", "dashboard")
        ]
        assert drives[0].data["email"] == "qe@example.com"
    finally:
        await follows.cancel(drive_key(RELEASE), actor="test")
    assert (await follows.get(drive_key(RELEASE))).status is FollowStatus.CANCELLED
