"""On-disk cache of prepared data and frozen-encoder features.

The root is `$BENCH_CACHE` (default `~/.cache/gentle-bench`). An entry is a folder
`<name>-<hash>`, the hash that of the canonical JSON of its key dict. It is built in a temporary
sibling folder, gets a completion marker, and is renamed into place, so a reader never sees a
half-built entry; the leftovers of an interrupted build are removed and the entry is rebuilt. An
exclusive lock (fcntl.flock on a sibling lock file) makes concurrent builders of one entry build it
once: the later ones wait, then read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

MARKER = ".complete"
TENSORS = "tensors.pt"


def root() -> Path:
    """The cache root folder: $BENCH_CACHE, else ~/.cache/gentle-bench."""
    return Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "gentle-bench")


def key_hash(key: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the key's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def path_of(name: str, key: dict[str, Any]) -> Path:
    """Where the entry (name, key) lives, built or not."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "entry"
    return root() / f"{slug}-{key_hash(key)}"


def is_complete(path: Path) -> bool:
    return (path / MARKER).is_file()


def entry(name: str, key: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """The folder of the complete entry (name, key); if absent, `build(folder)` fills it first.

    `build` writes its files into the empty folder it is given; if it raises (or the process dies),
    nothing becomes visible and the next call builds again."""
    final = path_of(name, key)
    if is_complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_complete(final):
                return final
            for stale in final.parent.glob(f".{final.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            if final.exists():
                shutil.rmtree(final)
            tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                build(tmp)
                (tmp / MARKER).write_text(json.dumps(key, sort_keys=True, indent=1, default=str))
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return final


def tensors(name: str, key: dict[str, Any], build: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
    """A dict of tensors cached as one entry: `build()` on a miss, then memory-mapped from disk."""
    folder = entry(name, key, lambda tmp: torch.save(build(), tmp / TENSORS))
    return torch.load(folder / TENSORS, mmap=True, weights_only=True)
