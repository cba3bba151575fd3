"""The house rules: the core never imports a channel library, and the layers stand on each other one way.

models < jobs, handlers < bot: `models` imports no other layer; `jobs` and `handlers` are peers that import
`models` (handlers may use the letter lifecycle of `jobs.letters`, nothing else of `jobs`); only `bot` wires
everything together. The graph of production modules has no cycle, and no module grows past ~600 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BANNED = {"telegram", "httpx", "aiohttp", "starlette", "uvicorn"}
PACKAGES = ("bot", "handlers", "jobs", "models")
MAY_IMPORT = {
    "models": {"models"},
    "jobs": {"models", "jobs"},
    "handlers": {"models", "handlers"},
    "bot": {"models", "jobs", "handlers", "bot"},
}
HANDLERS_MAY_USE_JOBS = ("jobs.letters",)
"""The letter lifecycle (draft, approve, send, receipt) is shared by /teguran and the sweep."""
MAX_LINES = 620


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    return {
        name: {target for target in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


@pytest.mark.parametrize("package", ["handlers", "jobs", "models"])
def test_core_packages_do_not_import_channel_libraries(package: str) -> None:
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        names = _imports(path)
        offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in BANNED]
    assert offenders == []


def test_layers_import_downward_only() -> None:
    offenders = []
    for name, targets in _graph().items():
        layer = name.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other in MAY_IMPORT[layer]:
                continue
            if layer == "handlers" and target.startswith(HANDLERS_MAY_USE_JOBS):
                continue
            offenders.append(f"{name} -> {target}")
    assert offenders == []


def test_production_modules_import_no_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_two_modules_share_a_name_across_layers() -> None:
    seen: dict[str, set[str]] = {}
    for name, path in _modules():
        if path.name != "__init__.py":
            seen.setdefault(path.stem, set()).add(name.split(".")[0])
    assert {stem: layers for stem, layers in seen.items() if len(layers) > 1} == {}


def test_no_production_module_is_too_long() -> None:
    long = {
        name: n for name, path in _modules() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
