"""An in-memory payload inspector (the port is :mod:`oar.integrations.payloads`)."""

from __future__ import annotations

from oar.integrations.releasecontroller import check_y_stream


class FakePayloadInspector:
    """In memory: ``urls`` per y-stream; ``accessible`` holds the URLs that answer."""

    def __init__(
        self, urls: dict[str, str] | None = None, *, accessible: set[str] | None = None
    ) -> None:
        self.urls = dict(urls or {})
        self.accessible = set(accessible or ())
        self.checks: list[str] = []

    async def metadata_url(self, y_stream: str) -> str | None:
        return self.urls.get(check_y_stream(y_stream))

    async def is_accessible(self, url: str) -> bool:
        self.checks.append(url)
        return url in self.accessible
