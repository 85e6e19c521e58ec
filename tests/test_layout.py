"""The layout's import rules (docs/code.md, "The module map"), read from the sources with `ast` as the code
version reads them (bench/cell/codeversion.py `imported`: imports inside functions count, those under
`if TYPE_CHECKING:` do not):

- plug-ins look only down: a module of methods/ or tasks/ imports only the shared modules at the top of
  bench/ (SHARED, which are exactly that top but for NOT_SHARED), methods/base.py, tasks/base.py and its
  own package (methods/ or tasks/): so a method imports no task module but tasks/base.py;
- nothing under bench/cell/ (a cell's life) imports bench/cli/ (the command line);
- no import circles among the modules of bench/, methods/ and tasks/.

Each rule is also shown failing on a planted violation in a temporary tree.
"""

from __future__ import annotations

from pathlib import Path

from bench.cell.codeversion import PROJECT, ROOT, _dotted, imported, module_file

# The top of bench/: the small shared modules a plug-in may import, and the three that are not for plug-ins.
SHARED = frozenset(
    f"bench.{name}"
    for name in (
        "apt",
        "atomic",
        "cache",
        "device",
        "errors",
        "params",
        "protocols",
        "seeds",
        "shards",
        "suggest",
        "yamlfile",
    )
) | {"bench"}
NOT_SHARED = frozenset({"bench.__main__", "bench.bootstrap", "bench.registry"})
CONTRACTS = frozenset({"methods.base", "tasks.base"})


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every project module under root (bench, methods, tasks): dotted name → file."""
    return {
        _dotted(p, root): p
        for top in PROJECT
        for p in sorted((root / top).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module → the project modules it imports (a name inside a module counts as that module)."""
    found = modules(root)
    out = {}
    for name, path in found.items():
        targets = set()
        for target in imported(path, name, root):
            parts = target.split(".")
            owner = next(
                (".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in found), None
            )
            if owner is not None and owner != name:
                targets.add(owner)
        out[name] = targets
    return out


def plug_in_breaches(edges: dict[str, set[str]]) -> list[str]:
    """Each import of a plug-in module (methods.*, tasks.*) that is not of SHARED, a contract or its own
    package."""
    out = []
    for name, targets in sorted(edges.items()):
        top = name.split(".")[0]
        if top not in ("methods", "tasks"):
            continue
        for target in sorted(targets):
            if target in SHARED or target in CONTRACTS or target.split(".")[0] == top:
                continue
            out.append(f"{name} imports {target}")
    return out


def cell_imports_cli(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} imports {target}"
        for name, targets in sorted(edges.items())
        if name == "bench.cell" or name.startswith("bench.cell.")
        for target in sorted(targets)
        if target == "bench.cli" or target.startswith("bench.cli.")
    ]


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One circle (a → b → ... → a) through each strongly connected group of two or more modules, or a
    module that imports itself; found with Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
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
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges[node]:
                    groups.append(group)
    return [_circle_in(group, edges) for group in groups]


def _circle_in(group: set[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest circle through the group's first module, within the group (breadth first)."""
    first = min(group)
    paths = {first: [first]}
    todo = [first]
    while todo:
        node = todo.pop(0)
        for child in sorted(edges[node] & group):
            if child == first:
                return [*paths[node], first]
            if child not in paths:
                paths[child] = [*paths[node], child]
                todo.append(child)
    raise AssertionError(f"no circle through {first} in {sorted(group)}")


def test_the_top_of_bench_is_the_shared_modules_and_the_three_others():
    top = {f"bench.{p.stem}" for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__"}
    assert top == (SHARED - {"bench"}) | NOT_SHARED, "the top of bench/ changed: update SHARED (or move it)"
    assert all(module_file(name) is not None for name in SHARED | CONTRACTS)


def test_plug_ins_import_only_the_shared_modules_the_contracts_and_their_own_package():
    edges = graph()
    assert any(t in SHARED for name, ts in edges.items() if name.startswith("tasks.") for t in ts)
    breaches = plug_in_breaches(edges)
    assert not breaches, "\n".join(breaches)


def test_no_module_of_a_cell_s_life_imports_the_command_line():
    edges = graph()
    assert any(name.startswith("bench.cell.") for name in edges) and any(
        n.startswith("bench.cli.") for n in edges
    )
    breaches = cell_imports_cli(edges)
    assert not breaches, "\n".join(breaches)


def test_there_are_no_import_circles():
    edges = graph()
    assert len(edges) > 150 and sum(map(len, edges.values())) > 400  # the whole project was read
    found = circles(edges)
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name in ("bench/__init__.py", "bench/cell/__init__.py", "bench/cli/__init__.py"):
        files.setdefault(name, "")
    for name in ("methods/__init__.py", "tasks/__init__.py", "methods/base.py", "tasks/base.py"):
        files.setdefault(name, "")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_planted_violations_are_caught(tmp_path):
    root = _tree(
        tmp_path,
        {
            "bench/errors.py": "",
            "bench/registry.py": "",
            "bench/engine/__init__.py": "",
            "bench/engine/loader.py": "",
            "bench/cli/main.py": "from bench.cell import sweep\n",
            "bench/cell/sweep.py": "from bench.cell.pool import run\n",
            # a circle, one of its imports in a function
            "bench/cell/pool.py": "def run():\n    from bench.cell.sweep import Cell\n",
            "bench/cell/status.py": "def f():\n    from ..cli import main\n",  # relative, in a function
            "bench/cell/typing_only.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from bench.cli import main\n",  # not at run time: allowed
            "methods/good.py": "from bench.errors import BenchError\nfrom methods.base import Method\n"
            "from tasks.base import Task\nfrom . import base\n",
            "methods/asif.py": "from tasks.metrics import PROMPT_POOLING\n",
            "tasks/metrics.py": "",
            "tasks/vl/__init__.py": "",
            "tasks/vl/features.py": "from bench.engine import loader\nfrom bench import errors, registry\n"
            "from tasks.metrics import x\nfrom .. import base\n",
        },
    )
    edges = graph(root)
    assert plug_in_breaches(edges) == [
        "methods.asif imports tasks.metrics",
        "tasks.vl.features imports bench.engine.loader",
        "tasks.vl.features imports bench.registry",
    ]
    assert cell_imports_cli(edges) == ["bench.cell.status imports bench.cli.main"]
    assert circles(edges) == [["bench.cell.pool", "bench.cell.sweep", "bench.cell.pool"]]
    message = " -> ".join(circles(edges)[0])
    assert message == "bench.cell.pool -> bench.cell.sweep -> bench.cell.pool"


def test_a_longer_circle_and_a_self_import_are_found():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert circles(edges) == [["a", "b", "c", "a"], ["e", "e"]]
    assert circles({"a": {"b"}, "b": set()}) == []
