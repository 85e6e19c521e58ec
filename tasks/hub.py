"""Where the files of an `hf:` source are, and what identifies them.

`hf:<owner>/<name>` is a Hugging Face dataset repository: its snapshot is downloaded once into the hub
cache (`huggingface_hub.snapshot_download`; offline, the cached snapshot) and read from there.
`hf:/path/to/folder` (also `hf:./rel`, `hf:~/x`) is a local folder laid out like such a repository.
Both are read from the folder by the same code (`datasets.load_dataset(folder)` for tables, the zip
readers of tasks/rs/layouts.py for archives), so a local copy of a repository is the test of the real
path. The identity of a source, for cache keys, is the hub commit of the snapshot, or for a local
folder the relative path, size and modification time of every file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError

OFFLINE_HINT = "it needs the internet once (HF_HUB_OFFLINE and HF_DATASETS_OFFLINE unset)"


@dataclass(frozen=True)
class Located:
    folder: Path
    identity: dict


_located: dict[str, Located] = {}


def is_local(where: str) -> bool:
    """`/abs`, `./rel`, `../rel` or `~/x`: a folder; anything else names a hub repository."""
    return where.startswith(("/", "./", "../", "~")) or where in (".", "..")


def check(where: str, what: str) -> None:
    """BenchError unless `where` is `owner/name` or a folder path (the folder need not exist yet)."""
    if is_local(where):
        return
    if where.count("/") != 1 or not all(where.split("/")):
        raise BenchError(
            f"{what}: hf:{where} must be hf:<owner>/<name> (a hub dataset) or hf:/path/to/folder"
        )


def locate(where: str, what: str) -> Located:
    """The folder holding the files of `hf:<where>` and its identity: a hub snapshot is looked up once
    per process, a local folder's files are fingerprinted on every call (they may change)."""
    check(where, what)
    if is_local(where):
        return _folder(where, what)
    if where not in _located:
        _located[where] = _snapshot(where, what)
    return _located[where]


def fingerprint(folder: Path) -> str:
    """16 hex digits over (relative path, size, mtime) of every file under `folder`, hidden ones aside."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            stat = path.stat()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _folder(where: str, what: str) -> Located:
    folder = Path(where).expanduser().resolve()
    if not folder.is_dir():
        raise BenchError(
            f"{what}: hf:{where} is not a folder; give a folder laid out like the hub repository, "
            "or hf:<owner>/<name> to download it"
        )
    return Located(folder, {"folder": str(folder), "files": fingerprint(folder)})


def _snapshot(repo: str, what: str) -> Located:
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id=repo, repo_type="dataset"))
    except Exception as exc:  # offline, absent, private, unreachable: all one message
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        offline = " (offline mode is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise BenchError(
            f"{what}: cannot download hf:{repo}{offline} ({reason}); {OFFLINE_HINT}, "
            "or copy the repository to a folder and give hf:/path/to/folder"
        ) from None
    return Located(path, {"repo": repo, "revision": path.name})
