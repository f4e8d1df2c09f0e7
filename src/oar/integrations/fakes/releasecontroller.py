"""In-memory release streams (the port is :mod:`oar.integrations.releasecontroller`)."""

from __future__ import annotations

from oar.integrations.releasecontroller import (
    Release,
    dev_preview_stream,
    in_y_stream,
    nightly_stream,
    stable_stream,
)


class FakeReleaseStreams:
    """In memory: ``{(arch, stream): [Release, ...]}``, newest first, with the same rules."""

    def __init__(self, streams: dict[tuple[str, str], list[Release]] | None = None) -> None:
        self.streams = {key: list(value) for key, value in (streams or {}).items()}

    def _stream(self, arch: str, stream: str) -> list[Release]:
        return self.streams.get((arch, stream), [])

    async def latest(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> Release | None:
        if nightly:
            candidates = [self._stream(arch, nightly_stream(y_stream, arch))]
        else:
            candidates = [
                self._stream(arch, stable_stream(y_stream, arch)),
                self._stream(arch, dev_preview_stream(y_stream, arch)),
            ]
        for releases in candidates:
            for release in releases:
                if release.accepted and (nightly or in_y_stream(release.name, y_stream)):
                    return release
        return None

    async def release(
        self, y_stream: str, name: str, *, nightly: bool, arch: str = "amd64"
    ) -> Release | None:
        streams = (
            [nightly_stream(y_stream, arch)]
            if nightly
            else [stable_stream(y_stream, arch), dev_preview_stream(y_stream, arch)]
        )
        for stream in streams:
            for release in self._stream(arch, stream):
                if release.name == name:
                    return release
        return None

    async def tags(self, y_stream: str, *, nightly: bool, arch: str = "amd64") -> list[Release]:
        if nightly:
            return list(self._stream(arch, nightly_stream(y_stream, arch)))
        return [
            r
            for r in self._stream(arch, stable_stream(y_stream, arch))
            if in_y_stream(r.name, y_stream)
        ]
