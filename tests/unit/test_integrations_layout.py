"""Where ports, adapters and fakes live, read from the source: every fake is in
``oar.integrations.fakes`` and no port module imports one. (Which package may import which
is import-linter's contracts in pyproject.toml, run by tests/unit/test_layering.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import oar

SOURCE = Path(oar.__file__).parent


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def _imports(tree: ast.Module) -> set[str]:
    """Every module a file imports, at the top or inside a function or TYPE_CHECKING."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_fakes_live_apart_from_the_adapters() -> None:
    """Every ``Fake*`` class is in ``oar.integrations.fakes`` (or, for the release layer's
    own ports such as the approval watches, ``oar.testing.release``), and no port module
    imports a fake (a fake imports its port, never the reverse)."""
    modules = _modules()
    misplaced = sorted(
        f"{module}.{node.name}"
        for module, tree in modules.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.name.startswith("Fake")
        and not _within(module, "oar.integrations.fakes")
        and module != "oar.testing.release"
    )
    assert misplaced == []
    importers = sorted(
        f"{module} imports {imported}"
        for module, tree in modules.items()
        if _within(module, "oar.integrations") and not _within(module, "oar.integrations.fakes")
        for imported in _imports(tree)
        if _within(imported, "oar.integrations.fakes")
    )
    assert importers == []
