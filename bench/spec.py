"""RunSpec: one cell of a sweep, and its stable run id.

run_id = sha256(canonical JSON of the spec + code version)[:16]. The code version is a hash of
the sources that decide the numbers (bench/engine, methods, tasks), so editing the CLI or the
reports keeps every run, while editing a loss starts new ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NUMERIC_SOURCES = ("bench/engine", "methods", "tasks")


@dataclass(frozen=True)
class RunSpec:
    """Method and its full parameters, task and its full parameters, pair ratio, split seed, train seed."""

    method: str
    task: str
    pair_ratio: float
    split_seed: int = 0
    seed: int = 0
    method_params: dict[str, Any] = field(default_factory=dict)
    task_params: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def run_id(self, code: str | None = None) -> str:
        blob = json.dumps({"spec": self.canonical(), "code": code or code_version()})
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunSpec:
        return cls(**obj)

    def label(self) -> str:
        r, split = f"r={self.pair_ratio:g}", f"split {self.split_seed}"
        return f"{self.method} · {self.task} · {r} · {split} · seed {self.seed}"


@cache
def code_version(root: Path = ROOT) -> str:
    """sha256 over the paths and contents of every .py file under NUMERIC_SOURCES of `root` (first 12 hex)."""
    digest = hashlib.sha256()
    for top in NUMERIC_SOURCES:
        for path in sorted((root / top).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
