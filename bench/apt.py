"""Debian packages a task needs: which are missing, and installing them on demand.

Standard library only: the setup script runs it with the system python before any venv exists.
A task declares the packages it may need in its `debian_packages` (tasks/base.py); the set-up
installs them, and `ensure` installs only declared ones. As root, `ensure` installs what is missing
with apt-get; otherwise it raises BenchError with the exact command to run and the alternatives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from bench.errors import BenchError


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


def ensure(task: type, packages: Sequence[str], why: str, instead: str) -> None:
    """Make sure `packages` are installed (needed for `why`, a phrase such as "the homology split"):
    install them when root, else BenchError ending with `instead` (what the user can do instead, e.g.
    "or set split=random"). Each must be in the `debian_packages` of `task` (a task class), so that
    the set-up installs it too."""
    undeclared = [name for name in packages if name not in task.debian_packages]
    if undeclared:
        raise BenchError(
            f"task {task.name} asks for the Debian package(s) {', '.join(undeclared)} without declaring "
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
