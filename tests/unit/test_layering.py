"""The layering of docs/architecture.md, enforced: import-linter's contracts (pyproject.toml)
hold, every package of ``oar`` has its place in them, and no two modules of ``oar`` import
each other, directly or round a longer loop. Imports inside functions and under
TYPE_CHECKING count (a module that names another's type depends on it)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

REPO = Path(__file__).parents[2]
PYPROJECT = REPO / "pyproject.toml"

# Cycles known and being removed elsewhere, each as the set of its modules. The check fails
# when one of them is gone too, so the entry is deleted with the cycle (as import-linter does
# with the matching ignore_imports entry in pyproject.toml).
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset(
    # None today. An entry here would be a cycle the build tolerates for now, with why.
    set()
)

# Parts of ``oar`` that are deliberately outside the layers: the stand-ins (tests and
# `oarctl sandbox`) and the test switches, both kept out of production by a contract.
OUTSIDE_THE_LAYERS = frozenset({"oar.sandbox", "oar.testing"})


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> modules it imports): each strongly
    connected component of more than one module, sorted by name (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _oar_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("oar", cache_dir=None)
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def test_the_import_contracts_hold() -> None:
    """`lint-imports` (also run by `make lint`) keeps every contract in pyproject.toml."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--config",
            str(PYPROJECT),
            "--no-cache",
            "--no-logo",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_import_cycle_between_modules() -> None:
    cycles = {frozenset(cycle) for cycle in strongly_connected(_oar_graph())}
    new = sorted(sorted(cycle) for cycle in cycles - KNOWN_CYCLES)
    assert new == [], f"import cycles between modules of oar: {new}"
    gone = sorted(sorted(cycle) for cycle in KNOWN_CYCLES - cycles)
    assert gone == [], f"these cycles are gone: delete them from KNOWN_CYCLES: {gone}"


def test_every_package_of_oar_has_its_place() -> None:
    """A new top-level package or module must be placed in the layers contract (or be
    deliberately outside it), so nothing escapes the check by being new."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    placed = {
        name.strip().strip("()")
        for layer in layers
        for name in layer.strip("()").replace(":", "|").split("|")
    }
    top_level = {".".join(module.split(".")[:2]) for module in _oar_graph() if module != "oar"}
    assert sorted(top_level - placed - OUTSIDE_THE_LAYERS) == []


def test_a_cycle_is_reported_by_the_names_of_its_modules() -> None:
    graph = {
        "oar.a": {"oar.b"},
        "oar.b": {"oar.c", "oar.d"},
        "oar.c": {"oar.a"},
        "oar.d": {"oar.e"},
        "oar.e": {"oar.d"},
        "oar.f": {"oar.a", "oar.f"},
    }
    assert strongly_connected(graph) == [["oar.a", "oar.b", "oar.c"], ["oar.d", "oar.e"]]
    assert strongly_connected({"oar.a": {"oar.b"}, "oar.b": set()}) == []
