"""The store: skip done cells, redo failed or unfinished ones, isolate failures, write atomically."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bench import atomic
from bench.cell.execute import execute
from bench.cell.store import Store
from bench.cell.sweep import plan

from helpers import run, spec


def test_done_cells_are_skipped_and_force_redoes(results):
    store = Store(results)
    specs = [spec(seed=0), spec(seed=1)]
    assert set(run(store, specs).values()) == {"done"}
    stamps = {s.run_id(): store.folder(s.run_id()).status()["finished_at"] for s in specs}
    mtimes = {s.run_id(): os.stat(store.folder(s.run_id()).file("metrics.json")).st_mtime_ns for s in specs}
    run(store, specs)
    assert {
        s.run_id(): os.stat(store.folder(s.run_id()).file("metrics.json")).st_mtime_ns for s in specs
    } == mtimes
    time.sleep(1.1)  # finished_at has one-second resolution
    run(store, specs, force=True)
    assert all(store.folder(r).status()["finished_at"] != t for r, t in stamps.items())


def test_one_failure_never_stops_the_others(results):
    store = Store(results)
    good, bad = spec(seed=0), spec(seed=1, fail="true")
    states = run(store, [bad, good])
    assert states == {bad.run_id(): "failed", good.run_id(): "done"}
    status = store.folder(bad.run_id()).status()
    assert status["state"] == "failed"
    assert "asked to fail" in status["error"] and "Traceback" in status["traceback"]
    assert not store.folder(bad.run_id()).file("metrics.json").exists()


def test_failed_and_interrupted_cells_are_redone(results):
    store = Store(results)
    (cell,) = plan(store, [spec()])
    cell.folder.write_status(state="failed", error="earlier crash")
    assert cell.folder.state() == "failed"
    assert run(store, [spec()]) == {cell.folder.run_id: "done"}
    cell.folder.write_status(state="running", pid=1)  # a run whose process died
    assert cell.folder.state() == "interrupted"
    assert run(store, [spec()]) == {cell.folder.run_id: "done"}


def test_locked_cell_is_left_to_its_holder(results):
    store = Store(results)
    (cell,) = plan(store, [spec()])
    assert cell.folder.lock.acquire()
    try:
        assert cell.folder.state() == "running"
        assert execute(cell.folder) == "busy"
        assert not cell.folder.file("status.json").exists()
    finally:
        cell.folder.lock.release()


def test_a_dead_process_does_not_hold_the_lock(results):
    store = Store(results)
    (cell,) = plan(store, [spec()])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from bench.cell.lock import RunLock; "
            "assert RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)",
            str(cell.folder.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert holder.stdout.readline().strip() == "held"
    assert cell.folder.state() == "running"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert cell.folder.state() == "pending"
    assert run(store, [spec()]) == {cell.folder.run_id: "done"}


def test_atomic_write_keeps_old_content_when_interrupted(tmp_path):
    target = tmp_path / "metrics.json"
    atomic.write_json(target, {"a2b_r1": 0.5})

    def half_then_crash(tmp):
        tmp.write_text('{"a2b_r1": 0.')
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.write_with(target, half_then_crash)
    assert json.loads(target.read_text()) == {"a2b_r1": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_run_folder_holds_the_contracted_files(results):
    store = Store(results)
    s = spec()
    run(store, [s])
    folder = store.folder(s.run_id())
    names = {p.name for p in folder.path.iterdir()}
    assert {"spec.json", "status.json", "metrics.json", "split.json", "log.txt", "checkpoint.pt"} <= names
    assert folder.spec() == s
    metrics = folder.metrics()
    assert {"a2b_r1", "a2b_r5", "a2b_r10", "b2a_r1", "b2a_r5", "b2a_r10", "zs_top1"} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())
    split = json.loads(folder.file("split.json").read_text())
    assert len(split["paired"]) == 30 and len(split["unpaired_a"]) == 270
    cost = folder.status()["cost"]
    for key in ("wall_s", "peak_mem_mb", "samples_per_s", "n_params", "n_trainable", "device"):
        assert key in cost
    assert cost["peak_mem_mb"] > 10 and cost["n_params"] > 0
    assert folder.status()["provenance"]["packages"]["torch"]
