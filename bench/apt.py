"""Debian packages a task needs: which are missing, and installing them on demand.

Standard library only: the setup script runs it with the system python before any venv exists.
A task declares the packages it may need in its `debian_packages` (tasks/base.py), a literal tuple that
`declarations` reads from the sources with `ast` (no task is imported); the set-up installs them, and
`ensure` installs only declared ones. As root, `ensure` installs what is missing
with apt-get; otherwise it raises BenchError with the exact command to run and the alternatives.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Declaration:
    """One `debian_packages = ...` in a class body: where it is, the class's `name` (None when the body
    assigns no literal one) and its packages (None when the value is not a literal tuple of names)."""

    where: str
    task: str | None
    packages: tuple[str, ...] | None


def declarations(root: Path = ROOT) -> Iterator[Declaration]:
    """Every `debian_packages` assigned (annotated or not) in a class body under root/tasks, in file and
    line order, read with `ast`."""
    for path in sorted((root / "tasks").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            values = {}
            for stmt in cls.body:
                name, value = _assigned(stmt)
                if name:
                    values[name] = (stmt, value)
            if "debian_packages" not in values:
                continue
            stmt, value = values["debian_packages"]
            name = _literal(values.get("name", (None, None))[1])
            packages = _literal(value)
            ok = isinstance(packages, tuple) and all(isinstance(n, str) and n for n in packages)
            yield Declaration(
                f"{path.relative_to(root)}:{stmt.lineno}",
                name if isinstance(name, str) else None,
                packages if ok else None,
            )


def _assigned(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """(name, value) of `name = value` or `name: T = value` (value None when only annotated), else None."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return (stmt.target.id, stmt.value) if stmt.value is not None else (None, None)
    return None, None


def _literal(value: ast.expr | None):
    try:
        return None if value is None else ast.literal_eval(value)
    except ValueError:
        return None


def declared(task: str, root: Path = ROOT) -> tuple[str, ...]:
    """The packages the task class named `task` declares, as the set-up reads them (() when none)."""
    found = [d.packages for d in declarations(root) if d.task == task and d.packages is not None]
    return tuple(name for packages in found for name in packages)


def missing(packages: Sequence[str]) -> list[str]:
    """The packages of `packages` that dpkg does not report as installed (all of them without dpkg)."""
    if shutil.which("dpkg-query") is None:
        return list(packages)
    out = []
    for name in packages:
        run = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}", name], capture_output=True, text=True
        )
        if run.returncode != 0 or run.stdout.strip() != "installed":
            out.append(name)
    return out


def install_command(packages: Sequence[str]) -> str:
    """The command line a user runs to install `packages`."""
    return "sudo apt-get install -y --no-install-recommends " + " ".join(packages)


def ensure(task: str, packages: Sequence[str], why: str, instead: str) -> None:
    """Make sure `packages` are installed (needed for `why`, a phrase such as "the homology split"):
    install them when root, else BenchError ending with `instead` (what the user can do instead, e.g.
    "or set split=random"). Each must be in the `debian_packages` of the task named `task`, as the
    set-up reads them (`declared`), so that the set-up installs it too."""
    have = declared(task)
    undeclared = [name for name in packages if name not in have]
    if undeclared:
        raise BenchError(
            f"task {task} asks for the Debian package(s) {', '.join(undeclared)} without declaring "
            "them: add them to its debian_packages"
        )
    need = missing(packages)
    if not need:
        return
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if not can_install:
        raise BenchError(
            f"{why} needs the Debian package(s) {', '.join(need)}, which are not installed: "
            f"run `{install_command(need)}`, {instead}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {', '.join(need)} with apt-get (needed for {why}) ...", flush=True)
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *need]):
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BenchError(
                f"`{' '.join(cmd)}` failed ({tail[0]}) while installing {', '.join(need)} for {why}; "
                f"install them by hand, {instead}"
            )
    still = missing(need)
    if still:
        raise BenchError(f"apt-get ran but {', '.join(still)} is still not installed; {instead}")
