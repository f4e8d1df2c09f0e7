"""``GitHubApp``: seed 004's webhook framework, acknowledging at once, working durably.

    app = GitHubApp()

    @app.on("issues")                      # runs before the answer: {"status": "HIT", "calls": …}
    def quick(ctx: WebhookContext) -> str: ...

    @app.on("issues.opened", background=True, timeout=120, retries=2, retry_delay=5)
    async def slow(ctx: WebhookContext) -> None:
        gh = await ctx.github()            # githubkit client acting as the installation
        ...

    @app.task                              # may run through app.enqueue_task(sync_repo, …)
    async def sync_repo(name: str) -> int: ...

Serve it with ``oarctl serve --github-app mymodule:app`` (or ``OAR_GITHUB_APP``). Each
delivery is verified (HMAC-SHA256, constant time), recorded once under its
``X-GitHub-Delivery`` — a redelivery, even a concurrent one, gets the first answer and runs
nothing again — and every ``background=True`` handler becomes one durable task, created
in the same transaction as the record and answered with 202 and the task IDs. A delivery
whose quick handlers never answered (the process died) is taken over by a redelivery once
its lease (``GITHUBAPP_DELIVERY_LEASE``) has passed.

Handlers receive a :class:`WebhookContext` of their own; nothing about a delivery lives on
the app (the original framework kept the payload on the shared instance, so concurrent
deliveries raced).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from githubkit import GitHub, TokenAuthStrategy
from sqlalchemy.engine import Connection

from oar.engine import Engine, QueueSpec, TaskContext, TaskManager, registry
from oar.errors import ConfigurationError, PermanentTaskError, WebhookRequestError
from oar.github.deliveries import DeliveryStore
from oar.github.memory import MemoryRunner
from oar.github.tokens import InstallationTokens
from oar.github.webhooks import Delivery, parse, verify
from oar.jsonvalue import JSON, json_problem
from oar.logs import get_logger

if TYPE_CHECKING:
    from oar.db import Database
    from oar.settings import Settings

log = get_logger(__name__)

GITHUB_QUEUE = "oar-github"
CALL_TASK = "github.call"
_KEY_CHARS = re.compile(r"[^A-Za-z0-9._:@-]")
F = TypeVar("F", bound=Callable[..., Any])

# What ``github.call`` may run: the functions apps registered with ``@app.task``, by
# ``module:qualname``. A worker looks the stored name up here and never imports it.
_CALLABLES: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True, kw_only=True)
class WebhookContext:
    """One delivery, as a handler sees it."""

    event: str
    action: str | None
    delivery_id: str
    payload: dict[str, Any]
    installation_id: int | None
    hook_id: str | None = None
    task_id: str | None = None
    attempt: int = 1
    app: GitHubApp = field(repr=False)

    async def github(self) -> GitHub[TokenAuthStrategy]:
        """A githubkit client acting as this delivery's installation."""
        if self.installation_id is None:
            raise WebhookRequestError(
                f"delivery {self.delivery_id} ({self.event}) names no installation"
            )
        return await self.app.tokens.client(self.installation_id)


@dataclass(frozen=True, kw_only=True)
class HandlerSpec:
    key: str
    func: Callable[[WebhookContext], Any]
    background: bool
    task_name: str
    timeout: float | None
    retries: int | None
    retry_delay: float | None

    @property
    def label(self) -> str:
        return getattr(self.func, "__name__", repr(self.func))


@dataclass(frozen=True, kw_only=True)
class WebhookResult:
    status_code: int
    body: dict[str, JSON]


class GitHubApp:
    """Webhook routing for one GitHub App; bound to a running OAR service to receive."""

    def __init__(
        self,
        *,
        webhook_secret: str | None = None,
        app_id: str | None = None,
        private_key: str | None = None,
        base_url: str | None = None,
        allow_sha1: bool | None = None,
        allow_unsigned: bool | None = None,
        background_tasks: bool | None = None,
        queue_backend: str | None = None,
    ) -> None:
        # Explicit arguments win; anything left None comes from the service's settings.
        self._explicit: dict[str, Any] = {
            "webhook_secret": webhook_secret,
            "app_id": app_id,
            "private_key": private_key,
            "base_url": base_url,
            "allow_sha1": allow_sha1,
            "allow_unsigned": allow_unsigned,
            "background_tasks": background_tasks,
            "queue_backend": queue_backend,
        }
        self._handlers: dict[str, list[HandlerSpec]] = {}
        self._calls: set[str] = set()
        self._tasks: TaskManager | None = None
        self._tokens: InstallationTokens | None = None
        self._deliveries: DeliveryStore | None = None
        self._memory: MemoryRunner | None = None
        self.webhook_secret: str | None = None
        self.allow_sha1 = False
        self.allow_unsigned = False
        self.background_tasks = True
        self.queue_backend = "database"
        self.delivery_lease = 120.0
        self.defaults: dict[str, Any] = {}
        # The service's settings and database, for handlers that do OAR's own work (the
        # agents' push handlers in oar.github.agents); set by bind().
        self.settings: Settings | None = None
        self.db: Database | None = None

    # --- registration -------------------------------------------------------------------
    def on(
        self,
        event: str,
        *,
        background: bool = False,
        timeout: float | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
    ) -> Callable[[F], F]:
        """Handle ``event`` (``issues``) or ``event.action`` (``issues.opened``)."""
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", event):
            raise ValueError(f"invalid event {event!r}: use 'event' or 'event.action'")

        def decorate(func: F) -> F:
            name = f"github.{func.__module__}.{func.__qualname__}"
            spec = HandlerSpec(
                key=event,
                func=func,
                background=background,
                task_name=name,
                timeout=timeout,
                retries=retries,
                retry_delay=retry_delay,
            )
            self._handlers.setdefault(event, []).append(spec)
            registry.register(
                name,
                self._task_for(spec),
                timeout=timeout,
                retries=retries,
                retry_delay=retry_delay,
                queue=GITHUB_QUEUE,
                internal=True,
            )
            return func

        return decorate

    def task(self, func: F) -> F:
        """Let ``app.enqueue_task(func, …)`` run ``func``: a module-level function,
        registered at start-up in the app's module (which every worker imports)."""
        key = _callable_key(func)
        _CALLABLES[key] = func
        self._calls.add(key)
        return func

    def handlers_for(self, delivery: Delivery) -> list[HandlerSpec]:
        """Handlers for ``event`` and for ``event.action``, each function once."""
        seen: set[int] = set()
        found = []
        for key in delivery.keys:
            for spec in self._handlers.get(key, ()):
                if id(spec.func) not in seen:
                    seen.add(id(spec.func))
                    found.append(spec)
        return found

    # --- binding to a service -------------------------------------------------------------
    def bind(self, *, settings: Settings, db: Database, engine: Engine, tasks: TaskManager) -> None:
        """Take configuration from the service's parts; refuse half-configured security."""
        given = self._explicit
        self.settings = settings
        self.db = db
        secret = given["webhook_secret"] or (
            settings.githubapp_webhook_secret.get_secret_value()
            if settings.githubapp_webhook_secret
            else None
        )
        self.webhook_secret = secret
        self.allow_sha1 = bool(_pick(given["allow_sha1"], settings.githubapp_allow_sha1))
        self.allow_unsigned = bool(
            _pick(given["allow_unsigned"], settings.githubapp_insecure_no_signature)
        )
        self.background_tasks = bool(
            _pick(given["background_tasks"], settings.githubapp_background_tasks)
        )
        self.queue_backend = str(
            _pick(given["queue_backend"], settings.githubapp_task_queue_backend)
        )
        self.delivery_lease = settings.githubapp_delivery_lease
        if secret is None and not self.allow_unsigned:
            raise ConfigurationError(
                "the GitHub App has no webhook secret: set GITHUBAPP_WEBHOOK_SECRET (or, for"
                " local development only, GITHUBAPP_INSECURE_NO_SIGNATURE=true)",
                variables=["GITHUBAPP_WEBHOOK_SECRET", "GITHUBAPP_INSECURE_NO_SIGNATURE"],
            )
        if secret is None:
            log.warning("github.unsigned_deliveries_accepted")
        if self.queue_backend == "memory":
            log.warning("github.memory_backend", detail="background handlers are not durable")
            self._memory = MemoryRunner()
        self.defaults = {
            "timeout": settings.githubapp_task_timeout,
            "retries": settings.githubapp_task_retry_attempts,
            "retry_delay": settings.githubapp_task_retry_delay,
        }
        app_id = given["app_id"] or settings.githubapp_id
        private_key = given["private_key"] or settings.github_private_key()
        if app_id and private_key:
            self._tokens = InstallationTokens(
                app_id=str(app_id),
                private_key=str(private_key),
                base_url=str(given["base_url"] or settings.githubapp_url),
            )
        self._deliveries = DeliveryStore(db)
        self._tasks = tasks
        engine.add_queue(
            QueueSpec(name=GITHUB_QUEUE, worker_concurrency=settings.githubapp_max_workers)
        )

    async def close(self) -> None:
        if self._memory is not None:
            await self._memory.close()

    @property
    def task_manager(self) -> TaskManager:
        return self._bound()

    @property
    def tokens(self) -> InstallationTokens:
        if self._tokens is None:
            raise ConfigurationError(
                "this GitHub App cannot act on GitHub: set GITHUBAPP_ID and"
                " GITHUBAPP_PRIVATE_KEY (or GITHUBAPP_PRIVATE_KEY_PATH)",
                variables=["GITHUBAPP_ID", "GITHUBAPP_PRIVATE_KEY"],
            )
        return self._tokens

    def _bound(self) -> TaskManager:
        if self._tasks is None:
            raise ConfigurationError(
                "the GitHub App is not bound to a running OAR service"
                " (serve it with oarctl serve --github-app module:attribute)"
            )
        return self._tasks

    def _store(self) -> DeliveryStore:
        self._bound()
        assert self._deliveries is not None
        return self._deliveries

    # --- receiving --------------------------------------------------------------------------
    async def handle(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        """Verify, record, enqueue, run the quick handlers, answer. Raises WebhookError."""
        verify(
            body,
            secret=self.webhook_secret,
            signature_256=headers.get("x-hub-signature-256"),
            signature_1=headers.get("x-hub-signature"),
            allow_sha1=self.allow_sha1,
            allow_unsigned=self.allow_unsigned,
        )
        delivery = parse(headers, body)
        handlers = self.handlers_for(delivery)
        queued = [h for h in handlers if h.background and self.background_tasks]
        inline = [h for h in handlers if h not in queued]
        memory_starts: list[Callable[[], str]] = []

        def enqueue(conn: Connection) -> list[str]:
            if self._memory is not None:
                memory_starts.extend(self._memory_start(h, delivery) for h in queued)
                return []
            return [self._enqueue(h, delivery, conn) for h in queued]

        # Task IDs are the deliveries' idempotency keys, so a delivery with nothing to run
        # before the answer is answered — and recorded — in a single transaction.
        known: tuple[int, dict[str, JSON]] | None = None
        keys: list[str] | None = None
        if not inline and self._memory is None:
            keys = [self._task_key(h, delivery) for h in queued]
            early = _answer(delivery, handlers, {}, {}, keys)
            known = (early.status_code, early.body)
        claim = await self._store().claim(
            delivery, enqueue, lease=self.delivery_lease, answer=known, task_ids=keys
        )
        if not claim.new:
            log.info(
                "github.redelivery", delivery_id=delivery.delivery_id, github_event=delivery.event
            )
            if claim.status_code is not None and isinstance(claim.response, dict):
                return WebhookResult(
                    status_code=claim.status_code, body={**claim.response, "duplicate": True}
                )
            detail = "the first delivery with this ID is still being answered"
            if claim.lease_expires_at is not None:
                detail += (
                    f"; a redelivery after {claim.lease_expires_at.isoformat()} takes it over"
                    " if it never is"
                )
            return WebhookResult(
                status_code=202,
                body={
                    "status": "DUPLICATE",
                    "delivery": delivery.delivery_id,
                    "tasks": list(claim.task_ids),
                    "duplicate": True,
                    "detail": detail,
                },
            )
        if claim.taken_over:
            # The claimer died before answering: its durable tasks exist (claim.task_ids),
            # its quick handlers never finished, and in-memory tasks died with it.
            log.warning(
                "github.delivery_taken_over",
                delivery_id=delivery.delivery_id,
                github_event=delivery.event,
            )
            if self._memory is not None:
                memory_starts.extend(self._memory_start(h, delivery) for h in queued)
        task_ids = list(claim.task_ids) + [start() for start in memory_starts]
        if known is not None and not claim.taken_over:
            result = WebhookResult(status_code=known[0], body=known[1])
        else:
            calls, errors = await self._run_inline(inline, delivery)
            result = _answer(delivery, handlers, calls, errors, task_ids)
            if not await self._store().answer(
                delivery.delivery_id, result.status_code, result.body
            ):
                log.info("github.answer_not_recorded", delivery_id=delivery.delivery_id)
        log.info(
            "github.delivery",
            delivery_id=delivery.delivery_id,
            github_event=delivery.event,
            action=delivery.action,
            status=result.body.get("status"),
            tasks=len(task_ids),
        )
        return result

    async def _run_inline(
        self, inline: list[HandlerSpec], delivery: Delivery
    ) -> tuple[dict[str, JSON], dict[str, str]]:
        calls: dict[str, JSON] = {}
        errors: dict[str, str] = {}
        for spec in inline:
            ctx = self._context(delivery)
            try:
                value = await _call(spec.func, ctx)
            except Exception as exc:  # reported in the answer, like the original framework
                log.warning(
                    "github.handler_failed", handler=spec.label, error=str(exc), exc_info=True
                )
                errors[spec.label] = f"{type(exc).__name__}: {exc}"
                continue
            calls[spec.label] = value if json_problem(value) is None else repr(value)
        return calls, errors

    def _context(self, delivery: Delivery, **extra: Any) -> WebhookContext:
        return WebhookContext(
            event=delivery.event,
            action=delivery.action,
            delivery_id=delivery.delivery_id,
            payload=delivery.payload,
            installation_id=delivery.installation_id,
            hook_id=delivery.hook_id,
            app=self,
            **extra,
        )

    def _options(self, spec: HandlerSpec) -> dict[str, Any]:
        return {
            "timeout": _pick(spec.timeout, self.defaults.get("timeout")),
            "retries": _pick(spec.retries, self.defaults.get("retries")),
            "retry_delay": _pick(spec.retry_delay, self.defaults.get("retry_delay")),
        }

    @staticmethod
    def _task_key(spec: HandlerSpec, delivery: Delivery) -> str:
        return task_key(delivery.delivery_id, spec.task_name, label=spec.label)

    def _enqueue(self, spec: HandlerSpec, delivery: Delivery, conn: Connection) -> str:
        return self.task_manager.enqueue_in(
            conn,
            spec.task_name,
            {"delivery_id": delivery.delivery_id},
            key=self._task_key(spec, delivery),
            source=f"github:{delivery.event}",
            allow_internal=True,
            **self._options(spec),
        )

    def _memory_start(self, spec: HandlerSpec, delivery: Delivery) -> Callable[[], str]:
        assert self._memory is not None
        memory = self._memory

        async def attempt(number: int) -> Any:
            return await _call(spec.func, self._context(delivery, attempt=number))

        options = self._options(spec)
        return lambda: memory.start(spec.task_name, attempt, **options)

    def _task_for(self, spec: HandlerSpec) -> Callable[[TaskContext], Any]:
        """The durable task that runs ``spec`` for one stored delivery."""

        async def run(task: TaskContext) -> JSON:
            assert isinstance(task.payload, dict)
            stored = await self._store().load(str(task.payload["delivery_id"]))
            ctx = WebhookContext(**stored, task_id=task.task_id, attempt=task.attempt, app=self)
            value = await _call(spec.func, ctx)
            return value if json_problem(value) is None else repr(value)

        run.__qualname__ = f"{spec.func.__qualname__}.task"
        run.__module__ = spec.func.__module__
        return run

    # --- the seed's task API --------------------------------------------------------------------
    async def enqueue_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
        """Run ``func(*args, **kwargs)`` as a durable background task; return its ID.

        ``func`` must be registered with ``@app.task`` (the worker runs only registered
        functions) and the arguments JSON values.
        """
        key = _callable_key(func)
        if key not in self._calls:
            raise ValueError(
                f"{key} is not registered with this GitHub App: decorate it with @app.task"
                " in the app's module"
            )
        if self._memory is not None:
            memory = self._memory

            async def attempt(number: int) -> Any:
                return await _call_with(func, args, kwargs)

            return memory.start(key, attempt, **self.defaults)
        return await self.task_manager.enqueue(
            CALL_TASK,
            {"function": key, "args": list(args), "kwargs": kwargs},
            source="github:enqueue_task",
            allow_internal=True,
            **self.defaults,
        )

    async def get_task_status(self, task_id: str) -> dict[str, JSON]:
        """The task's status, attempts, last error and result."""
        if self._memory is not None and (status := self._memory.status(task_id)) is not None:
            return status
        return (await self.task_manager.get(task_id)).to_dict()


def task_key(delivery_id: str, task_name: str, *, label: str = "") -> str:
    """The task ID of one handler for one delivery: distinct pairs give distinct keys.

    A readable prefix (the delivery ID and the handler's name, shortened, with characters a
    key cannot hold replaced) followed by the SHA-256 of the exact pair, which is what
    keeps ``coll ision-1`` and ``coll/ision-1`` — or two handlers named alike in two
    modules — apart. At most 12 + 60 + 1 + 40 + 1 + 64 = 178 characters.
    """
    digest = hashlib.sha256(json.dumps([delivery_id, task_name]).encode()).hexdigest()
    readable = _KEY_CHARS.sub("-", f"{delivery_id[:60]}:{label[:40]}")
    return f"gh-delivery:{readable}:{digest}"


def _callable_key(func: Callable[..., Any]) -> str:
    """``module:qualname``, the name ``github.call`` stores; module-level functions only."""
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if not qualname or "<locals>" in qualname or "<lambda>" in qualname or not module:
        raise ValueError(f"{func!r} is not a module-level function: a worker cannot find it")
    return f"{module}:{qualname}"


def _pick(explicit: Any, configured: Any) -> Any:
    return configured if explicit is None else explicit


async def _call(func: Callable[..., Any], ctx: WebhookContext) -> Any:
    return await _call_with(func, (ctx,), {})


async def _call_with(func: Callable[..., Any], args: Any, kwargs: Mapping[str, Any]) -> Any:
    """Await an async function; run a sync one in a worker thread, off the event loop."""
    if inspect.iscoroutinefunction(func):
        return await func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)


def _answer(
    delivery: Delivery,
    handlers: list[HandlerSpec],
    calls: dict[str, JSON],
    errors: dict[str, str],
    task_ids: list[str],
) -> WebhookResult:
    body: dict[str, JSON] = {"delivery": delivery.delivery_id, "calls": calls}
    if errors:
        body.update(status="ERROR", errors=dict(errors), tasks=list(task_ids))
        return WebhookResult(status_code=500, body=body)
    if not handlers:
        body["status"] = "MISS"
        return WebhookResult(status_code=200, body=body)
    if task_ids:
        body.update(status="HIT" if calls else "QUEUED", tasks=list(task_ids))
        return WebhookResult(status_code=202, body=body)
    body["status"] = "HIT"
    return WebhookResult(status_code=200, body=body)


@registry.task(CALL_TASK, queue=GITHUB_QUEUE, internal=True)
async def _run_call(task: TaskContext) -> JSON:
    """``GitHubApp.enqueue_task``: call the registered function the payload names."""
    assert isinstance(task.payload, dict)
    target = str(task.payload["function"])
    func = _CALLABLES.get(target)
    if func is None:
        raise PermanentTaskError(
            f"{target!r} is not registered with the GitHub App in this worker (@app.task);"
            " github.call runs registered functions only"
        )
    args = task.payload.get("args") or []
    kwargs = task.payload.get("kwargs") or {}
    assert isinstance(args, list)
    assert isinstance(kwargs, dict)
    value = await _call_with(func, args, kwargs)
    return value if json_problem(value) is None else repr(value)


def load_app(target: str) -> GitHubApp:
    """Import ``module:attribute`` and check it is a GitHubApp (for --github-app)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"--github-app / OAR_GITHUB_APP must be module:attribute, got {target!r}",
            variables=["OAR_GITHUB_APP"],
        )
    try:
        module = importlib.import_module(module_name)
        app = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot load the GitHub App {target!r}: {type(exc).__name__}: {exc}",
            variables=["OAR_GITHUB_APP"],
        ) from exc
    if not isinstance(app, GitHubApp):
        raise ConfigurationError(
            f"{target} is a {type(app).__name__}, not a GitHubApp", variables=["OAR_GITHUB_APP"]
        )
    return app
