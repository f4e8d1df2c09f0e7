"""OAR: the OpenShift z-stream release checklist as durable, asynchronous ChatOps."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["__version__"]


@functools.cache
def _version() -> str:
    # Read on first use: importlib.metadata costs a short CLI run (`oar --help`) ~50 ms.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("oar")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'oar' has no attribute {name!r}")
