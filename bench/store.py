"""The results store: `<results>/runs/<run_id>/`, one folder per run.

A folder holds spec.json, about.json (what the tables need to know of its method and task, and its
code version: bench/registry.py `describe`), status.json (its recorded state, bench/states.py; with
error and traceback when failed, cost and provenance when done), metrics.json (flat name → number),
split.json (the paired indices), history.json (intermediate evaluations), log.txt and checkpoint.pt. Every
write is atomic; a per-folder lock says whether some process is running the cell now.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import bench.atomic as atomic
from bench import states
from bench.errors import BenchError
from bench.lock import RunLock
from bench.spec import RunSpec

DEFAULT_RESULTS = "results"
RESULT_FILES = ("status.json", "metrics.json", "split.json", "history.json", "log.txt", "checkpoint.pt")


def results_root(arg: str | None) -> Path:
    """--results, else $BENCH_RESULTS, else ./results."""
    return Path(arg or os.environ.get("BENCH_RESULTS") or DEFAULT_RESULTS)


class RunFolder:
    """One run's folder and its files."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = RunLock(self.path)

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    def spec(self) -> RunSpec:
        return RunSpec.from_json(atomic.read_json(self.file("spec.json")))

    def status(self) -> dict[str, Any]:
        return atomic.read_json(self.file("status.json"), default={})

    def about(self) -> dict[str, Any]:
        """What the run recorded of its method, its task and its code version ({} for older runs)."""
        return atomic.read_json(self.file("about.json"), default={})

    def metrics(self) -> dict[str, float]:
        return atomic.read_json(self.file("metrics.json"), default={})

    def state(self) -> str:
        """The cell's state as the folder alone tells it (bench/states.py `derive`, with no scheduler to ask):
        done, failed, pruned, running (a live process holds the lock), interrupted or pending."""
        return states.derive(self.status().get("state"), self.lock.held_elsewhere)

    def write_status(self, **fields: Any) -> None:
        atomic.write_json(self.file("status.json"), fields)

    def write_json(self, name: str, obj: Any) -> None:
        atomic.write_json(self.file(name), obj)

    def clear_results(self) -> None:
        """Forget every result of this run (for --force); the spec stays."""
        for name in RESULT_FILES:
            self.file(name).unlink(missing_ok=True)

    def log(self, line: str) -> None:
        """Append one line to log.txt (an append of one line is atomic enough for a log)."""
        with open(self.file("log.txt"), "a") as fh:
            fh.write(line.rstrip("\n") + "\n")


class Store:
    """All run folders under one results root."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    def folder(self, run_id: str) -> RunFolder:
        return RunFolder(self.runs / run_id)

    def ensure_writable(self) -> None:
        """Create the runs folder and prove a file can be written there, or raise BenchError."""
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.runs, prefix=".probe"):
                pass
        except OSError as err:
            raise BenchError(
                f"results folder {self.root} cannot be written ({err.strerror}); "
                "choose another with --results DIR or $BENCH_RESULTS"
            ) from None

    def create(self, spec: RunSpec, run_id: str) -> RunFolder:
        """The folder of a spec, created with its spec.json and about.json when new."""
        from bench import registry
        from bench.codeversion import cell_sources

        folder = self.folder(run_id)
        folder.path.mkdir(parents=True, exist_ok=True)
        if not folder.file("about.json").exists():
            method, task = registry.methods().get(spec.method), registry.tasks().get(spec.task)
            code, files = cell_sources(method.module, task.module)
            about = {
                "method": method.describe(),
                "task": task.describe(),
                "code_version": code,
                "sources": files,
            }
            atomic.write_json(folder.file("about.json"), about)
        if not folder.file("spec.json").exists():
            atomic.write_json(folder.file("spec.json"), spec.to_json())
        return folder

    def all_folders(self) -> list[RunFolder]:
        if not self.runs.is_dir():
            return []
        return [RunFolder(p) for p in sorted(self.runs.iterdir()) if (p / "spec.json").is_file()]
