"""RunSpec: one cell of a sweep, and its stable run id.

run_id = sha256(canonical JSON of the spec + the cell's code version)[:16]. The code version
(bench/cell/codeversion.py) hashes only the sources that decide this cell's numbers: editing the CLI,
the reports, a benchmark or another method keeps the run, while editing its loss starts a new one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError

ROOT = Path(__file__).resolve().parents[2]


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
        blob = json.dumps({"spec": self.canonical(), "code": code or self.code_version()})
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunSpec:
        return cls(**obj)

    def code_version(self) -> str:
        """The version of the sources this cell runs: the engine, its method's and its task's modules and
        what they import (bench/cell/codeversion.py)."""
        from bench import registry
        from bench.cell.codeversion import cell_version, tree_version

        try:
            method, task = registry.methods().get(self.method), registry.tasks().get(self.task)
        except BenchError:
            return tree_version()
        return cell_version(method.module, task.module)

    def label(self) -> str:
        r, split = f"r={self.pair_ratio:g}", f"split {self.split_seed}"
        return f"{self.method} · {self.task} · {r} · {split} · seed {self.seed}"


def task_key(spec: RunSpec) -> str:
    """What decides a cell's data: its task and the task's full parameters (the key under which a process
    keeps a task's loaded data, and by which the worker pool routes cells)."""
    return json.dumps([spec.task, spec.task_params], sort_keys=True, default=str)
