"""Code snapshots: the packages a cluster job imports, frozen at submission.

`take(results)` copies bench/, methods/ and tasks/ into `<results>/snapshots/<hash>/`, the hash over
every copied file's path and bytes: unchanged code shares one snapshot, edited code gets a new one.
A job starts in its snapshot folder, which Python puts first on its path, so queued and requeued jobs
run the code as it was at submission whatever happens to the working tree since (the job callable
itself is unpickled from there too). `snapshot.json` records the commit and code version it came from.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import tempfile
from pathlib import Path

from bench import atomic
from bench.cell.codeversion import tree_version
from bench.cell.spec import ROOT
from bench.errors import BenchError

PACKAGES = ("bench", "methods", "tasks")
MANIFEST = "snapshot.json"


def content_hash(root: Path) -> str:
    """sha256 over the relative paths and contents of the files of PACKAGES under `root` (first 16 hex)."""
    digest = hashlib.sha256()
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def take(results: Path) -> Path:
    """The snapshot of the current code under `results`; a BenchError if the code changes meanwhile."""
    from bench.cell.provenance import git_commit

    parent = Path(results).resolve() / "snapshots"
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
    try:
        for top in PACKAGES:
            shutil.copytree(ROOT / top, staging / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if tree_version(staging) != tree_version():
            raise BenchError("the code changed while the sweep was being submitted; submit it again")
        target = parent / content_hash(staging)
        if not target.is_dir():
            manifest = {"source": str(ROOT), "git_commit": git_commit(), "code_version": tree_version()}
            atomic.write_json(staging / MANIFEST, manifest)
            try:
                staging.rename(target)
            except OSError:  # a concurrent submission made the same snapshot first
                if not target.is_dir():
                    raise
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def setup_lines(snapshot: Path) -> list[str]:
    """Shell lines for a job script: import from the snapshot, not from wherever the job was submitted."""
    quoted = shlex.quote(str(snapshot))
    return [f"cd {quoted}", f'export PYTHONPATH={quoted}"${{PYTHONPATH:+:$PYTHONPATH}}"']
