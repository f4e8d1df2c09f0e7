"""Is the release's payload signed? The rules, and the ``image-signature`` follow kind.

The original ``image-signed-check`` (reference oar-commands.md §11) read the stable
payload's digest (``changeLogJson.to.digest``) from the release controller, retried an
empty digest every 30 s by recursion whose result it dropped (so any retry ended in an
``AttributeError``), then fetched ``<signature server>sha256=<hex>/signature-1`` once.

Here one lookup answers one of four states (:class:`Lookup`), and a durable follow looks
again every interval until the signature is published or the deadline passes: a missing
build or digest is simply "not yet" (the next check reads the controller again), so no
retry result can be lost, and the deadline, not a retry count, bounds the wait.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oar.errors import IntegrationError, InvalidArgumentError
from oar.integrations.releasecontroller import HttpReleaseStreams, Release, ReleaseStreams
from oar.integrations.signatures import HttpSignatures, Signatures, check_digest
from oar.jsonvalue import JSON
from oar.release.follows import Check, Finished, FollowInfo, FollowStatus, group_mention, kinds
from oar.release.versions import ReleaseVersion

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

KIND = "image-signature"
TASK = "image-signed-check"
SYSTEM = "release controller"


def follow_key(release: str) -> str:
    """One signature follow per release: ``image-signed-check:4.19.3``."""
    return f"{TASK}:{release}"


class Lookup(enum.StrEnum):
    """What one look for the release's signature found."""

    NO_RELEASE = "no stable release"  # the controller has no such build (yet, or recycled)
    NO_DIGEST = "no digest"  # the build's details carry no digest (yet)
    NOT_SIGNED = "not signed"  # the signature server answers 404
    SIGNED = "signed"

    @property
    def done(self) -> bool:
        return self is Lookup.SIGNED


@dataclass(frozen=True, kw_only=True)
class SignatureLookup:
    state: Lookup
    release: str
    digest: str | None = None
    url: str | None = None

    def text(self) -> str:
        if self.state is Lookup.NO_RELEASE:
            return f"the release controller has no stable build {self.release} yet"
        if self.state is Lookup.NO_DIGEST:
            return f"the release controller shows no payload digest for {self.release} yet"
        if self.state is Lookup.NOT_SIGNED:
            return f"the signature of {self.digest} is not published yet at {self.url}"
        return f"the payload {self.digest} is signed: {self.url}"

    def data(self) -> dict[str, JSON]:
        return {
            "state": self.state.value,
            "release": self.release,
            "digest": self.digest,
            "url": self.url,
        }


def payload_digest(build: Release) -> str | None:
    """The payload digest of a build's details (``changeLogJson.to.digest``); None when
    there is none yet; an :class:`IntegrationError` when it is not a digest at all."""
    digest = build.digest
    if digest is None:
        return None
    try:
        return check_digest(digest)
    except InvalidArgumentError as exc:
        raise IntegrationError(
            SYSTEM, f"build {build.name} has a malformed payload digest {digest!r}"
        ) from exc


async def look(
    streams: ReleaseStreams, signatures: Signatures, version: ReleaseVersion
) -> SignatureLookup:
    """One look: the stable build's digest on the controller, then its signature."""
    release = version.text
    build = await streams.release(version.y_stream, release, nightly=False)
    if build is None:
        return SignatureLookup(state=Lookup.NO_RELEASE, release=release)
    digest = payload_digest(build)
    if digest is None:
        return SignatureLookup(state=Lookup.NO_DIGEST, release=release)
    url = signatures.url(digest)
    signed = await signatures.is_signed(digest)
    return SignatureLookup(
        state=Lookup.SIGNED if signed else Lookup.NOT_SIGNED,
        release=release,
        digest=digest,
        url=url,
    )


def summary_text(status: FollowStatus, *, release: str, group: str, detail: str | None) -> str:
    """The release channel's outcome message."""
    if status is FollowStatus.SUCCEEDED:
        return f"[{release}] Hello {group}, image signed check passed: {detail}"
    if status is FollowStatus.TIMED_OUT:
        return (
            f"[{release}] Hello {group}, image signed check failed: no signature by the"
            f" deadline ({detail})"
        )
    return f"[{release}] Hello {group}, image signed check failed: {detail}"


def _last_check(follow: FollowInfo) -> str | None:
    """What the last check found (its log line without time and number)."""
    lines = [line.split(": ", 2)[-1] for line in follow.log if ": check #" in line]
    return lines[-1] if lines else None


class SignatureKind:
    """The ``image-signature`` follow kind, bound to the release controller and the
    signature server."""

    name = KIND
    noun = "follow"

    def __init__(self, *, streams: ReleaseStreams, signatures: Signatures) -> None:
        self.streams = streams
        self.signatures = signatures

    def started_line(self, follow: FollowInfo) -> str:
        return (
            f"follow started for the payload signature of {follow.subject}: checking every"
            f" {follow.interval_seconds:g}s until {follow.deadline_text()}"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        found = await look(self.streams, self.signatures, ReleaseVersion.parse(follow.subject))
        line = f"check #{number}: {found.text()}"
        if found.state.done:
            return Check.finished(line, **found.data())
        return Check.pending(line, **found.data())

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        return Finished(
            ok=True, line=f"Signature check PASSED: {check.data.get('url') or 'published'}"
        )

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return "image signed check passed: the payload's signature is published"
        if status is FollowStatus.TIMED_OUT:
            return (
                f"image signed check failed: no signature by {follow.deadline_text()}"
                f" ({_last_check(follow) or 'no check made'})"
            )
        return f"image signed check {status.value}: {error}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        group = str(follow.data.get("group") or "")
        mention = await group_mention(notifier, group)
        detail = error if status not in (FollowStatus.SUCCEEDED, FollowStatus.TIMED_OUT) else None
        return summary_text(
            status,
            release=str(follow.release),
            group=mention,
            detail=detail or _last_check(follow),
        )


@contextlib.asynccontextmanager
async def signature_kind(settings: Settings) -> AsyncIterator[SignatureKind]:
    """The kind with its two HTTP ports, built once per worker (neither needs a token)."""
    async with HttpSignatures.from_settings(settings) as signatures:
        yield SignatureKind(
            streams=HttpReleaseStreams.from_settings(settings), signatures=signatures
        )


kinds.register(KIND, signature_kind)
