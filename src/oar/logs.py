"""Structured logging: stable event names with data as fields, secrets scrubbed.

Every module logs through ``get_logger(__name__)`` with an event name such as
``"task.enqueued"`` and IDs as keyword fields. structlog renders through the standard
library, so third-party logs (uvicorn, DBOS, SQLAlchemy) share one handler, one format
and one scrubber.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_key|apikey|authorization)", re.I)
_MASK = "***"


class SecretScrubber:
    """A structlog processor that hides secret values and secret-named fields.

    Strings are scrubbed of every known secret value, inside dicts, lists and tuples
    too; any other object is logged as its scrubbed ``repr`` (what the renderers would
    print), so a secret cannot reach the output through a value's representation.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text

    def clean(self, value: Any) -> Any:
        """``value`` with secrets masked: strings scrubbed, containers walked."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: (_MASK if _secret_named(k, v) else self.clean(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.clean(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.clean(v) for v in value)
        return self.scrub(repr(value))

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> EventDict:
        for key, value in list(event_dict.items()):
            if key.startswith("_") or key == "exc_info":
                # structlog's and logging's own objects (_record); the exception is
                # rendered and scrubbed as text at the end of the chain.
                continue
            if _secret_named(key, value):
                event_dict[key] = _MASK
            else:
                event_dict[key] = self.clean(value)
        return event_dict


class PathMask:
    """Replaces local paths (the data directory, the database file, the home directory)
    with labels, so a log that leaves the machine (a task log in StateBox) names none."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        usable = {p.rstrip("/"): label for p, label in paths.items() if len(p.rstrip("/")) > 1}
        self._patterns = [
            (re.compile(re.escape(path) + r"(?![\w.-])"), label)
            for path, label in sorted(usable.items(), key=lambda item: len(item[0]), reverse=True)
        ]

    def __call__(self, text: str) -> str:
        for pattern, label in self._patterns:
            text = pattern.sub(label, text)
        return text


def _secret_named(key: object, value: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and value not in (None, "", False)


_scrubber = SecretScrubber()


def _scrub(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    return _scrubber(logger, method, event_dict)


def _render_exception(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """Render ``exc_info`` as a plain traceback, without local variables, then scrub it.

    structlog's console renderer would otherwise draw it with rich and every frame's
    locals: a request's scope, its Authorization header, hundreds of KB per error,
    rendered on the event loop.
    """
    event_dict = structlog.processors.format_exc_info(logger, method, event_dict)
    for key in ("exception", "stack", "stack_info"):
        value = event_dict.get(key)
        if isinstance(value, str):
            event_dict[key] = _scrubber.scrub(value)
    return event_dict


def configure_logging(
    *,
    level: str = "INFO",
    fmt: str = "console",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Route all logging (ours and third-party) through one scrubbing handler."""
    global _scrubber  # noqa: PLW0603  (logging is process-wide)
    _scrubber = SecretScrubber(secrets)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub,
    ]
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        # plain_traceback: never rich's traceback with locals, even if exc_info got here.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        _render_exception,
        renderer,
    ]

    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("oar")

    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "oar":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

    # DBOS installs its own console handler unless its logger already has one; give it
    # a no-op handler and let its records reach ours.
    dbos_logger = logging.getLogger("dbos")
    if not dbos_logger.handlers:
        dbos_logger.addHandler(logging.NullHandler())
    dbos_logger.propagate = True
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio", "alembic", "dbos"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))

    structlog.configure(
        # Drop events below the level before any processor runs: hot paths log at INFO.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


# Until an application calls configure_logging, OAR used as a library logs like any
# library: through the standard logging module (warnings and errors reach stderr).
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        _scrub,
        structlog.stdlib.render_to_log_kwargs,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=False,
)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger whose events carry ``name`` as their ``logger`` field."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def bind_context(**values: Any) -> None:
    """Attach fields (``release=…``, ``task_id=…``) to every event of the current task."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


def redact(mapping: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A copy of ``mapping`` with secret-named keys masked, for display."""
    return {k: (_MASK if _SECRET_KEY.search(k) and v else v) for k, v in mapping.items()}


def scrub(text: str) -> str:
    """``text`` without the secrets :func:`configure_logging` was given (for output that
    does not go through logging: a command's error line, a traceback shown with -v)."""
    return _scrubber.scrub(text)
