"""The results store: `<results>/runs/<run_id>/`, one folder per run.

A folder holds spec.json, about.json (what the tables need to know of its method and task, and its
code version: bench/registry.py `describe`), status.json (its recorded state, bench/cell/states.py; with
error and traceback when failed, cost and provenance when done), metrics.json (flat name → number),
split.json (the paired indices), history.json (intermediate evaluations), log.txt and checkpoint.pt. Every
write is atomic; a per-folder lock says whether some process is running the cell now.

A file damaged anyway (truncated by a full disk or a copy cut short) raises atomic.CorruptFile, naming it,
from its reader. Every command goes on without it: a folder whose spec.json cannot be read is left out of
what is listed (`Store.readable_folders` reports and counts it); one whose status.json, or whose
metrics.json when it says done, cannot be read has no recorded state, so it is `pending`
(bench/cell/states.py) and the next `run` clears its results and runs it anew (bench/cell/execute.py); an
unreadable about.json or spec.json is rewritten from the grid's spec by `run` (`Store.create`). Nothing here
imports torch: an unreadable checkpoint.pt is told by its zip archive (what torch.save writes), and set aside
when a run resumes (bench/engine/train.py `resume`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import bench.atomic as atomic
from bench.atomic import CorruptFile
from bench.cell import states
from bench.cell.lock import RunLock
from bench.cell.spec import RunSpec
from bench.errors import BenchError

DEFAULT_RESULTS = "results"
RESULT_FILES = ("status.json", "metrics.json", "split.json", "history.json", "log.txt", "checkpoint.pt")
CHECKED_FILES = ("spec.json", "status.json", "metrics.json", "about.json", "checkpoint.pt")  # `unreadable`


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
        """The run's spec; CorruptFile when spec.json is missing or cannot be read as one."""
        path = self.file("spec.json")
        obj = atomic.read_json(path, kind=dict)
        if obj is None:
            raise CorruptFile(path, "it is missing")
        try:
            return RunSpec.from_json(obj)
        except TypeError as err:
            raise CorruptFile(path, f"not a run spec ({err})") from None

    def status(self) -> dict[str, Any]:
        """status.json ({} when there is none); CorruptFile when it cannot be read."""
        return atomic.read_json(self.file("status.json"), default={}, kind=dict)

    def about(self) -> dict[str, Any]:
        """What the run recorded of its method, its task and its code version ({} for older runs)."""
        return atomic.read_json(self.file("about.json"), default={}, kind=dict)

    def metrics(self) -> dict[str, float]:
        return atomic.read_json(self.file("metrics.json"), default={}, kind=dict)

    def recorded_state(self) -> str | None:
        """The state status.json records; None when there is none, when status.json cannot be read, and
        when it says done but metrics.json cannot be read (such a cell is not finished: `run` redoes it)."""
        try:
            recorded = self.status().get("state")
            if recorded == states.DONE:
                self.metrics()
        except CorruptFile:
            return None
        return recorded

    def state(self) -> str:
        """The cell's state as the folder alone tells it (bench/cell/states.py `derive`, with no scheduler
        to ask): done, failed, pruned, running (a live process holds the lock), interrupted or pending (also
        when its status.json cannot be read: nothing readable says it ever started)."""
        return states.derive(self.recorded_state(), self.lock.held_elsewhere)

    def unreadable(self) -> list[CorruptFile]:
        """Each of spec.json, status.json, metrics.json, about.json and checkpoint.pt that is there but
        cannot be read (checkpoint.pt: its zip archive, checked without torch)."""
        found = []
        for name, read in [
            ("spec.json", self.spec),
            ("status.json", self.status),
            ("metrics.json", self.metrics),
            ("about.json", self.about),
            ("checkpoint.pt", self._check_checkpoint),
        ]:
            if name == "spec.json" or self.file(name).exists():
                try:
                    read()
                except CorruptFile as err:
                    found.append(err)
        return found

    def _check_checkpoint(self) -> None:
        path = self.file("checkpoint.pt")
        try:
            with zipfile.ZipFile(path):
                pass
        except (OSError, zipfile.BadZipFile) as err:
            raise CorruptFile(path, f"not a torch checkpoint ({err})") from None

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
        from bench.cell.codeversion import cell_sources

        folder = self.folder(run_id)
        folder.path.mkdir(parents=True, exist_ok=True)
        for name, read in [("about.json", folder.about), ("spec.json", folder.spec)]:
            if folder.file(name).exists():
                try:
                    read()
                except CorruptFile as err:  # the run id names the spec and its code version: write it anew
                    print(f"{err}; written anew", file=sys.stderr)
                    folder.file(name).unlink()
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

    def readable_folders(self, report: TextIO | None = None) -> list[RunFolder]:
        """Every run folder whose spec.json can be read. Each file of any folder that cannot be read
        (`RunFolder.unreadable`) is reported on `report` (default stderr), one line each, then one line
        that counts the runs with such files and those left out."""
        report = report or sys.stderr
        kept, broken, skipped = [], 0, 0
        folders = self.all_folders()
        for folder in folders:
            found = folder.unreadable()
            for err in found:
                print(err, file=report)
            broken += bool(found)
            if any(err.path.name == "spec.json" for err in found):
                skipped += 1
            else:
                kept.append(folder)
        if broken:
            print(
                f"{broken} of {len(folders)} runs have files that cannot be read "
                f"({skipped} left out: no readable spec.json)",
                file=report,
            )
        return kept


def or_empty(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What a reader of a RunFolder (`folder.status`, `folder.metrics`, ...) returns, or {} when its file
    cannot be read."""
    try:
        return read()
    except CorruptFile:
        return {}
