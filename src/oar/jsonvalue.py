"""JSON values: the only shapes OAR stores, sends between processes and returns.

Task payloads and results, approval contexts and workflow inputs are all JSON, never
pickles, so any process (or tool) can read them and a code change cannot make stored
work unreadable.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeAlias

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

# Deeper than any payload a person or GitHub writes, and far from Python's recursion limit,
# which the JSON encoder, the database drivers and the durable engine all recurse into.
MAX_DEPTH = 100
# PostgreSQL stores no NUL character in text or JSON, and UTF-8 has no lone surrogates
# (which json.loads accepts from "\ud800"): refuse both before they reach a database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def string_problem(text: str, path: str = "value") -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or ``None``."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return f"{path} contains a NUL character (\\u0000), which OAR does not store"
    return f"{path} contains a lone surrogate ({found.group()!r}), which is not valid Unicode"


def json_problem(value: Any, path: str = "value") -> str | None:
    """Why ``value`` is not a storable JSON value (naming where), or ``None`` when it is.

    Iterative, so a deeply nested value is reported, not a RecursionError.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, str):
            if problem := string_problem(item, where):
                return problem
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{where} is {item!r}, which JSON cannot represent"
            continue
        if isinstance(item, list | dict) and depth >= MAX_DEPTH:
            return f"{where} nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, list):
            stack.extend(
                (child, f"{where}[{index}]", depth + 1)
                for index, child in reversed(list(enumerate(item)))
            )
            continue
        if isinstance(item, dict):
            children: list[tuple[Any, str, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{where} has a non-string key {key!r}"
                if problem := string_problem(key, f"a key of {where}"):
                    return problem
                children.append((child, f"{where}[{key!r}]", depth + 1))
            stack.extend(reversed(children))
            continue
        return f"{where} is a {type(item).__name__}"
    return None


def nests_deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
