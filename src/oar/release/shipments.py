"""Shipment data files (Konflux): exact edits of their YAML.

:func:`without_issues` removes ``shipment.data.releaseNotes.issues.fixed`` entries by their
whole ``id``: the YAML is composed to find each entry's lines, those lines are cut (every
other line, comments and formatting included, is kept as it was), and the result is
parsed again and compared with the original less those entries, so an edit that would
change anything else is refused. The original deleted every line containing
``id: <KEY>`` — ``OCPBUGS-12`` also matched ``OCPBUGS-123`` (reference §4.11.5).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import yaml

from oar.errors import ShipmentEditError

FIXED_PATH = ("shipment", "data", "releaseNotes", "issues", "fixed")


def _child(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return value  # type: ignore[no-any-return]
    return None


def _issue_id(item: yaml.Node) -> str | None:
    found = _child(item, "id")
    return str(found.value).strip() if isinstance(found, yaml.ScalarNode) else None


def fixed_issues(text: str) -> list[str]:
    """The ``id`` of every ``shipment.data.releaseNotes.issues.fixed`` entry."""
    data: Any = yaml.safe_load(text)
    for name in FIXED_PATH:
        data = data.get(name) if isinstance(data, dict) else None
    return [str(i.get("id")) for i in data or [] if isinstance(i, dict)]


def without_issues(text: str, keys: Collection[str], *, path: str = "") -> tuple[str, list[str]]:
    """``text`` without the ``issues.fixed`` entries whose ``id`` is one of ``keys`` (whole
    values, never substrings), every other line kept as it was; and the keys removed.

    Raises :class:`ShipmentEditError` when the file is not YAML, the list is not a block
    list OAR can cut lines from, or the result would differ in anything but those entries.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        before: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ShipmentEditError(path, f"not YAML ({exc})") from exc
    node: yaml.Node | None = root
    parent: yaml.Node | None = None
    for name in FIXED_PATH:
        parent, node = node, _child(node, name)
    if node is None:
        return text, []
    if not isinstance(node, yaml.SequenceNode):
        raise ShipmentEditError(path, "releaseNotes.issues.fixed is not a list")
    wanted = set(keys)
    items = list(node.value)
    chosen = [n for n, item in enumerate(items) if _issue_id(item) in wanted]
    if not chosen:
        return text, []
    if node.flow_style:
        raise ShipmentEditError(path, "releaseNotes.issues.fixed is a flow list ([…])")
    lines = text.splitlines(keepends=True)
    starts = [item.start_mark.line for item in items]
    if len(set(starts)) != len(starts):
        raise ShipmentEditError(path, "two issues share a line")
    cut: set[int] = set()
    for n in chosen:
        start = starts[n]
        if not lines[start].lstrip().startswith("-"):
            raise ShipmentEditError(path, f"issue {_issue_id(items[n])} is not a '- ' list item")
        if n + 1 < len(items):
            end = starts[n + 1]
        else:
            # The item ends where its last token does: a mark at the start of a line (or
            # only indentation before it) belongs to what follows the list.
            mark = items[n].end_mark
            ahead = lines[mark.line][: mark.column] if mark.line < len(lines) else ""
            end = mark.line + (1 if ahead.strip() else 0)
        cut.update(range(start, end))
    removed = [str(_issue_id(items[n])) for n in chosen]
    kept = [line for number, line in enumerate(lines) if number not in cut]
    if len(chosen) == len(items):  # nothing left: an empty list, not a null
        key_line = _fixed_key_line(parent, path)
        kept_line = lines[key_line].rstrip("\n").rstrip()
        kept[kept.index(lines[key_line])] = f"{kept_line} []\n"
    result = "".join(kept)
    _check_edit(before, result, wanted, path)
    return result, list(dict.fromkeys(removed))


def _fixed_key_line(issues: yaml.Node | None, path: str) -> int:
    if isinstance(issues, yaml.MappingNode):
        for key, _ in issues.value:
            if isinstance(key, yaml.ScalarNode) and key.value == FIXED_PATH[-1]:
                return int(key.start_mark.line)
    raise ShipmentEditError(path, "releaseNotes.issues has no 'fixed' key")


def _check_edit(before: Any, text: str, wanted: set[str], path: str) -> None:
    """The edited file parses to the same document less the dropped entries."""
    try:
        after: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ShipmentEditError(path, f"the edit broke the YAML ({exc})") from exc
    expected: Any = before
    container: Any = expected
    for name in FIXED_PATH[:-1]:
        container = container[name]
    container[FIXED_PATH[-1]] = [
        i for i in container[FIXED_PATH[-1]] or [] if str(i.get("id", "")).strip() not in wanted
    ]
    if after != expected:
        raise ShipmentEditError(path, "the edit changed more than the dropped issues")
