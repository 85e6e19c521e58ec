"""The code version of a cell: a hash of exactly the sources that can change its numbers.

A cell's sources are every module of `bench/engine/`, the module (or the whole package) that
defines its method, the one that defines its task, and every project module that these import,
followed through their imports (read with `ast`, so nothing is imported here; imports inside
functions count too, those under `if TYPE_CHECKING:` do not). That takes in the shared
contracts a cell uses (methods/base.py, tasks/base.py, the loss library, the metrics, private `_`
helpers) and nothing else: adding a method file, editing another task or a benchmark under
bench/perf/ leaves the cell's version, and so its run id, unchanged. A cell whose method or task
is not registered (a run of code that no longer exists) gets the hash of the whole numeric tree
(`tree_version`).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("bench", "methods", "tasks")
ENGINE = "bench.engine"
TREE = ("bench/engine", "bench/device.py", "bench/seeds.py", "bench/cell/rules.py", "methods", "tasks")


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file of a project module (a package's __init__.py), or None when it is not one."""
    if module.split(".")[0] not in PROJECT:
        return None
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _type_only(node: ast.AST) -> bool:
    """An `if TYPE_CHECKING:` block: imports for annotations, which never run."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _nodes(tree: ast.AST):
    """Every node of `tree` outside `if TYPE_CHECKING:` blocks."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [child for child in ast.iter_child_nodes(node) if not _type_only(child)]


def _imports(path: Path, module: str) -> frozenset[str]:
    """The modules `path` imports at run time; for `from X import y`, X.y as well (y may be a module)."""
    return frozenset(name for base, item in _statements(path, module) for name in (base, item) if name)


def imported(path: Path, module: str, root: Path = ROOT) -> frozenset[str]:
    """The modules the code of `path` names in its imports, run-time ones (in functions too): `import a.b`
    names a.b; `from X import y` names X.y when that is a project module (under `root`), else X. (Python
    also runs the enclosing packages' __init__.py, which `_imports` and `sources` count: this is the
    graph of what a module asks for, whose circles tests/test_layout.py refuses.)"""
    found = set()
    for base, item in _statements(path, module):
        found.add(item if item and module_file(item, root) is not None else base)
    return frozenset(found)


def _statements(path: Path, module: str) -> frozenset[tuple[str, str | None]]:
    """(X, None) for each `import X`, (X, X.y) for each `from X import y` (relative ones made absolute) of
    `path`, outside `if TYPE_CHECKING:` blocks."""
    stat = path.stat()
    return _parsed_imports(path, module, stat.st_mtime_ns, stat.st_size)


@cache
def _parsed_imports(path: Path, module: str, mtime_ns: int, size: int) -> frozenset[tuple[str, str | None]]:
    """_statements, parsed once per version of the file (its modification time and size)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[tuple[str, str | None]] = set()
    for node in _nodes(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found.update((base, f"{base}.{alias.name}") for alias in node.names)
    return frozenset(found)


def _parents(module: str) -> list[str]:
    """A module's enclosing packages (importing a.b.c runs a/__init__.py and a/b/__init__.py)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def sources(roots: tuple[str, ...], root: Path = ROOT) -> tuple[Path, ...]:
    """The files of `roots` (every module of a package) and of the project modules they import."""
    todo = list(roots)
    for name in roots:
        path = module_file(name, root)
        if path is not None and path.name == "__init__.py":
            todo += [_dotted(p, root) for p in sorted(path.parent.rglob("*.py"))]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        path = module_file(name, root)
        if path is None or name in seen:
            continue
        seen[name] = path
        todo += [m for m in _imports(path, name) | set(_parents(name)) if m not in seen]
    return tuple(sorted(set(seen.values())))


def _dotted(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def digest(paths: Iterable[Path], root: Path = ROOT) -> str:
    """sha256 over the relative paths and contents of `paths`, in sorted order (first 12 hex)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def engine_modules(root: Path = ROOT) -> tuple[str, ...]:
    return tuple(_dotted(p, root) for p in sorted((root / "bench" / "engine").glob("*.py")))


def cell_version(method_module: str, task_module: str, root: Path = ROOT) -> str:
    """The version of a cell whose method and task are defined in these modules."""
    return cell_sources(method_module, task_module, root)[0]


@cache
def cell_sources(method_module: str, task_module: str, root: Path = ROOT) -> tuple[str, tuple[str, ...]]:
    """(version, the files it covers, relative to root); the whole tree's when a module is unknown."""
    if module_file(method_module, root) is None or module_file(task_module, root) is None:
        return tree_version(root), ()
    files = sources((*engine_modules(root), method_module, task_module), root)
    return digest(files, root), tuple(str(p.relative_to(root)) for p in files)


@cache
def tree_version(root: Path = ROOT) -> str:
    """The hash of every .py file of the numeric tree (bench/engine/, methods/, tasks/, and the modules that
    moved out of the engine: bench/device.py, bench/seeds.py, bench/cell/rules.py)."""
    files = (root / top for top in TREE)
    return digest((p for f in files for p in ([f] if f.suffix == ".py" else f.rglob("*.py"))), root)
