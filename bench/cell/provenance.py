"""Where and with what a run was made: versions, git commit, machine, device."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from typing import Any

from bench.cell.spec import ROOT

PACKAGES = ("torch", "numpy", "pandas", "open_clip_torch", "fair-esm", "sentence-transformers", "submitit")


@cache
def git_commit() -> str:
    """HEAD's commit, with '+dirty' when tracked files differ from it; 'unknown' outside git. Code running
    from a cluster job's snapshot (bench/cluster/snapshot.py) reports the commit the snapshot was taken
    from."""
    manifest = ROOT / "snapshot.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())["git_commit"]
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@cache
def provenance() -> dict[str, Any]:
    return {
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
