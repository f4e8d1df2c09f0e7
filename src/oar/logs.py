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
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api_key|apikey|authorization)", re.I)
_MASK = "***"


class SecretScrubber:
    """A structlog processor that hides secret values and secret-named fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> EventDict:
        for key, value in list(event_dict.items()):
            if _SECRET_KEY.search(key) and value not in (None, "", False):
                event_dict[key] = _MASK
            elif isinstance(value, str):
                event_dict[key] = self.scrub(value)
        return event_dict


_scrubber = SecretScrubber()


def _scrub(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    return _scrubber(logger, method, event_dict)


def _render_exception_scrubbed(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    exc = event_dict.get("exception")
    if isinstance(exc, str):
        event_dict["exception"] = _scrubber.scrub(exc)
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
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _render_exception_scrubbed,
            renderer,
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
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
