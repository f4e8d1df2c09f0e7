"""How every adapter calls its external system: a deadline, bounded retries, one error tree.

An adapter describes one system once (:class:`CallPolicy`: its name, the variable holding its
credential, timeout, retries) and a ``classify`` function that says what a library's
exception means (:class:`Failure`). :func:`call` then runs each operation with a deadline,
retries only what is transient (429 honouring ``Retry-After``, 5xx, connection errors) with
exponential backoff and jitter, and raises the matching :class:`~oar.errors.IntegrationError`
subclass ``from`` the library's exception, so no third-party exception crosses an adapter.

Synchronous libraries (jira, python-gitlab, python-jenkins, ldap3) run in a worker thread via
:func:`call_sync`; the event loop never blocks on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from oar.backoff import Backoff
from oar.errors import (
    IntegrationAuthError,
    IntegrationConflictError,
    IntegrationError,
    IntegrationNotFoundError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.settings import Settings

log = get_logger(__name__)

T = TypeVar("T")


class Kind(enum.StrEnum):
    TRANSIENT = "transient"  # 429, 5xx, connection reset: worth another try
    AUTH = "auth"  # 401/403: our credential is wrong
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409/412: optimistic lock lost
    TIMEOUT = "timeout"  # the library's own timeout fired
    PERMANENT = "permanent"  # anything else: a bug or bad input, do not retry


@dataclass(frozen=True, kw_only=True)
class Failure:
    """What a library exception means, as decided by an adapter's ``classify``."""

    kind: Kind
    message: str
    status_code: int | None = None
    retry_after: float | None = None


def failure_for_status(
    status_code: int, message: str, *, retry_after: float | None = None
) -> Failure:
    """The usual meaning of an HTTP status code."""
    if status_code in (401, 403):
        kind = Kind.AUTH
    elif status_code == 404:
        kind = Kind.NOT_FOUND
    elif status_code in (409, 412):
        kind = Kind.CONFLICT
    elif status_code == 429 or status_code >= 500:
        kind = Kind.TRANSIENT
    else:
        kind = Kind.PERMANENT
    return Failure(kind=kind, message=message, status_code=status_code, retry_after=retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (the delta-seconds form); None otherwise."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


@dataclass(frozen=True, kw_only=True)
class CallPolicy:
    """How one system is called: its name in errors, its credential variable, the limits."""

    system: str
    credential: str
    timeout: float = 30.0
    retries: int = 3
    backoff: Backoff = field(default_factory=lambda: Backoff(delay=0.5, max_delay=30.0))
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for: fail instead

    @classmethod
    def from_settings(
        cls, settings: Settings, system: str, credential: str, *, backoff: Backoff | None = None
    ) -> CallPolicy:
        """The policy of an adapter built from the settings (OAR_INTEGRATION_TIMEOUT and
        OAR_INTEGRATION_RETRIES), with the system's own backoff when it has one."""
        policy = cls(
            system=system,
            credential=credential,
            timeout=settings.integration_timeout,
            retries=settings.integration_retries,
        )
        return policy if backoff is None else dataclasses.replace(policy, backoff=backoff)


Classify = Callable[[BaseException], Failure | None]


async def call(
    policy: CallPolicy,
    operation: str,
    attempt: Callable[[], Awaitable[T]],
    classify: Classify,
) -> T:
    """Run ``attempt()`` under ``policy``; ``classify`` returns None for exceptions it does
    not know, which propagate unchanged (they are OAR's own or programming errors)."""
    retry = 0
    while True:
        try:
            async with asyncio.timeout(policy.timeout):
                return await attempt()
        except TimeoutError as exc:
            timed_out = Failure(kind=Kind.TIMEOUT, message=f"no answer in {policy.timeout:g}s")
            raise _error(policy, operation, timed_out) from exc
        except IntegrationError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if failure.kind is not Kind.TRANSIENT or retry >= policy.retries:
                if failure.kind is Kind.TRANSIENT:
                    failure = Failure(
                        kind=Kind.TRANSIENT,
                        message=f"{failure.message} (after {retry + 1} attempts)",
                        status_code=failure.status_code,
                    )
                raise _error(policy, operation, failure) from exc
            retry += 1
            delay = policy.backoff.delay_for(retry, seed=operation)
            if failure.retry_after is not None:
                if failure.retry_after > policy.max_retry_after:
                    raise _error(policy, operation, failure) from exc
                delay = max(delay, failure.retry_after)
            log.warning(
                "integration.retry",
                system=policy.system,
                operation=operation,
                retry=retry,
                delay=round(delay, 3),
                status_code=failure.status_code,
            )
            await asyncio.sleep(delay)


async def call_sync(
    policy: CallPolicy,
    operation: str,
    function: Callable[[], T],
    classify: Classify,
) -> T:
    """:func:`call` for a blocking library call, run in a worker thread.

    A thread cannot be cancelled: on timeout the caller gets its error at once and the
    thread finishes on its own (the library's own socket timeout bounds it).
    """

    async def attempt() -> T:
        return await asyncio.to_thread(functools.partial(function))

    return await call(policy, operation, attempt, classify)


def _error(policy: CallPolicy, operation: str, failure: Failure) -> IntegrationError:
    message = f"{operation}: {failure.message}"
    status = failure.status_code
    match failure.kind:
        case Kind.AUTH:
            return IntegrationAuthError(policy.system, policy.credential, status_code=status)
        case Kind.NOT_FOUND:
            return IntegrationNotFoundError(policy.system, message, status_code=status)
        case Kind.CONFLICT:
            return IntegrationConflictError(policy.system, message, status_code=status)
        case Kind.TIMEOUT:
            return IntegrationTimeoutError(policy.system, message, status_code=status)
        case Kind.TRANSIENT:
            return IntegrationUnavailableError(policy.system, message, status_code=status)
        case _:
            return IntegrationError(policy.system, message, status_code=status)
