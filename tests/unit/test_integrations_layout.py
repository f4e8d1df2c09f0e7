"""Where ports, adapters and fakes live, read from the source: production packages never
load the sandbox, a port module never imports its fake, and no inner package imports an
outer one (release work reaches Slack through the notifier port, not the bot's package)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import oar

SOURCE = Path(oar.__file__).parent
# The packages that run in production and must never load the sandbox's stand-ins or
# seed (``oar.cli``'s ``oarctl sandbox`` and the tests are where the sandbox is used).
INNER = ("oar.integrations", "oar.db", "oar.engine", "oar.release", "oar.agents")


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


def test_production_packages_never_import_the_sandbox() -> None:
    offenders = sorted(
        f"{module} imports {imported}"
        for module, tree in _modules().items()
        if any(_within(module, package) for package in INNER)
        for imported in _imports(tree)
        if _within(imported, "oar.sandbox")
    )
    assert offenders == []


def test_fakes_live_apart_from_the_adapters() -> None:
    """Every ``Fake*`` class is in ``oar.integrations.fakes`` (or, for the release layer's
    own ports such as the approval watches, ``oar.release.fakes``), and no port module
    imports a fake (a fake imports its port, never the reverse)."""
    modules = _modules()
    misplaced = sorted(
        f"{module}.{node.name}"
        for module, tree in modules.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.name.startswith("Fake")
        and not _within(module, "oar.integrations.fakes")
        and module != "oar.release.fakes"
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


# What each inner package may not import: the packages outside it (STYLE: cli, web, slack,
# github -> release -> engine, integrations, db -> settings, errors).
_FORBIDDEN = {
    "oar.integrations": (
        "oar.db",  # the Slack notifier's records go through an injected recorder
        "oar.engine",
        "oar.release",
        "oar.agents",
        "oar.service",
        "oar.cli",
        "oar.web",
        "oar.slack",
        "oar.github",
    ),
    "oar.release": ("oar.cli", "oar.web", "oar.slack", "oar.github"),
}


@pytest.mark.parametrize("package", sorted(_FORBIDDEN))
def test_inner_packages_never_import_outer_ones(package: str) -> None:
    """Release work reaches Slack through the notifier port in ``oar.integrations.slack``,
    not through the bot's package; the adapters import no database."""
    offenders = sorted(
        f"{module} imports {imported}"
        for module, tree in _modules().items()
        if _within(module, package)
        for imported in _imports(tree)
        if any(_within(imported, outer) for outer in _FORBIDDEN[package])
    )
    assert offenders == []
