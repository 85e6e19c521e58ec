"""The run states of bench/cell/states.py: each comes from the situation that should produce it, `status` and
`RunFolder.state()` agree on it, and `status` stays cheap (no torch, no submitit, no cluster code in
bench/cell/status.py)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cell import states
from bench.cell.lock import RunLock
from bench.cell.spec import ROOT
from bench.cell.status import JobView, cell_status
from bench.cell.store import RunFolder, Store
from bench.cell.sweep import plan
from bench.cluster import jobfile, scheduler
from bench.cluster.scheduler import Jobs

from helpers import run, spec

JOB_LOG = Path("/jobs/7_1/7_1_0_log.err")
RECORD = {"cluster": "slurm", "job_id": "7_1", "stderr": str(JOB_LOG)}
NO_ANSWER = object()  # the cell has a job, but its scheduler does not answer
GONE = object()  # squeue answered without the job, and sacct keeps no record of it

# recorded state in status.json, a live lock holder, what SLURM says of the job → the cell's state
SITUATIONS = [
    (None, False, None, states.PENDING),  # only spec.json
    (None, True, None, states.RUNNING),
    (states.QUEUED, False, None, states.PENDING),
    (states.QUEUED, False, NO_ANSWER, states.PENDING),
    (states.QUEUED, False, "PENDING", states.PENDING),  # a job waiting in the queue shows as pending
    (states.QUEUED, False, "RUNNING", states.RUNNING),
    (states.QUEUED, False, "CANCELLED", states.FAILED),  # cancelled before it started
    (states.RUNNING, True, None, states.RUNNING),
    (states.RUNNING, True, GONE, states.RUNNING),  # a live process outranks the scheduler's silence
    (states.RUNNING, False, None, states.INTERRUPTED),
    (states.RUNNING, False, NO_ANSWER, states.INTERRUPTED),
    (states.RUNNING, False, "TIMEOUT", states.FAILED),
    (states.RUNNING, False, GONE, states.FAILED),
    (states.REQUEUED, False, "REQUEUED", states.PENDING),
    (states.REQUEUED, False, "PENDING", states.PENDING),
    (states.REQUEUED, False, None, states.INTERRUPTED),  # no job waits for it: nothing will resume it
    (states.REQUEUED, False, "TIMEOUT", states.FAILED),  # requeued once too often
    (states.DONE, False, "RUNNING", states.DONE),  # done is done, whatever an older job does
    (states.DONE, True, None, states.DONE),
    (states.FAILED, False, None, states.FAILED),
    (states.FAILED, False, "COMPLETED", states.FAILED),
    (states.FAILED, False, "REQUEUED", states.PENDING),  # the failure was an older job's
    (states.PRUNED, False, None, states.PRUNED),
]


@pytest.fixture
def folder(tmp_path):
    [cell] = plan(Store(tmp_path / "results"), [spec()])
    return cell.folder


def job_view(said) -> JobView | None:
    if said is None:
        return None
    if said is NO_ANSWER:
        return jobfile.view(RECORD)
    if said is GONE:
        return jobfile.view(RECORD, None, gone=True)
    return jobfile.view(RECORD, said)


@pytest.mark.parametrize("recorded, held, said, expected", SITUATIONS)
def test_each_situation_gives_its_state_in_status_and_in_the_folder(folder, recorded, held, said, expected):
    if recorded:
        folder.write_status(state=recorded)
    holder = RunLock(folder.path)
    if held:
        assert holder.acquire()
    try:
        assert cell_status(folder, job_view(said)).state == expected
        if said is None or said is NO_ANSWER:  # what the folder alone says: the same
            assert folder.state() == expected
    finally:
        holder.release()


def test_the_situations_cover_the_vocabulary():
    produced = {expected for *_, expected in SITUATIONS}
    assert produced == set(states.ALL) - {states.QUEUED, states.REQUEUED}, "recorded only, never shown"
    assert RunFolder(Path("/nonexistent/run")).state() == states.PENDING


def test_a_run_the_scheduler_killed_is_failed_with_its_reason_and_the_jobs_log(folder):
    folder.write_status(state=states.RUNNING)  # what a run killed by SLURM leaves behind
    timeout = cell_status(folder, jobfile.view(RECORD, "TIMEOUT"))
    assert (timeout.state, timeout.job_id) == (states.FAILED, "7_1")
    assert timeout.reason == "job 7_1: killed at its time limit (TIMEOUT)"
    assert timeout.log == JOB_LOG
    oom = cell_status(folder, jobfile.view(RECORD, "OUT_OF_MEMORY"))
    assert oom.reason == "job 7_1: killed for using more memory than it asked for (OUT_OF_MEMORY)"
    gone = cell_status(folder, jobfile.view(RECORD, None, gone=True))
    assert gone.state == states.FAILED and "left the queue without finishing the run" in gone.reason
    interrupted = cell_status(folder, None)
    assert (interrupted.reason, interrupted.log) == ("no process runs it any more", folder.file("log.txt"))


def test_the_runs_own_failure_and_pruning_give_the_runs_reason_and_log(folder):
    folder.write_status(state=states.FAILED, error="ValueError: boom")
    failed = cell_status(folder, jobfile.view(RECORD, "COMPLETED"))
    assert (failed.state, failed.reason, failed.log) == (
        states.FAILED,
        "ValueError: boom",
        folder.file("log.txt"),
    )
    folder.write_status(state=states.PRUNED, error="pruned at step 30")
    pruned = cell_status(folder, None)
    assert (pruned.state, pruned.reason, pruned.settled) == (states.PRUNED, "pruned at step 30", True)
    folder.write_status(state=states.QUEUED)
    waiting = cell_status(folder, jobfile.view(RECORD, "PENDING"))
    assert (waiting.state, waiting.job_id, waiting.reason, waiting.settled) == (
        states.PENDING,
        "7_1",
        None,
        False,
    )


def test_views_ask_slurm_once_and_only_about_slurm_jobs(tmp_path, monkeypatch):
    folders = [c.folder for c in plan(Store(tmp_path / "results"), [spec(seed=s) for s in range(4)])]
    jobs = [
        {"cluster": "slurm", "job_id": "7_1", "stderr": "/jobs/7_1.err"},
        {"cluster": "slurm", "job_id": "7_2", "stderr": "/jobs/7_2.err"},
        {"cluster": "local", "job_id": "9", "stderr": "/jobs/9.err"},
    ]
    for folder, job in zip(folders, jobs, strict=False):
        folder.write_json(jobfile.JOB_FILE, job)
    asked = []

    def query(job_ids):
        asked.append(sorted(job_ids))  # a SLURM job 9 of some other user does not make the local job 9 ended
        return Jobs({"7_1": "RUNNING", "9": "CANCELLED"}, frozenset({"7_1", "7_2"}))

    monkeypatch.setattr(scheduler, "query", query)
    views = jobfile.views(folders)
    assert asked == [["7_1", "7_2"]]
    assert views == {
        folders[0].run_id: JobView("7_1", Path("/jobs/7_1.err"), states.JOB_STARTED),
        folders[1].run_id: JobView("7_2", Path("/jobs/7_2.err"), states.JOB_ENDED, scheduler.ending(None)),
        folders[2].run_id: JobView("9", Path("/jobs/9.err")),
    }, "the fourth cell never went to a cluster"


def modules_at_exit(code: str) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds at its exit after running `code`, and what it printed."""
    report = "import atexit, json, sys\natexit.register(lambda: print(json.dumps(sorted(sys.modules))))\n"
    done = subprocess.run(
        [sys.executable, "-c", report + code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *printed, modules = done.stdout.splitlines()
    return set(json.loads(modules)), "\n".join(printed)


def test_bench_status_imports_no_cluster_code():
    modules, _ = modules_at_exit("import bench.cell.status")
    assert "bench.cell.status" in modules
    assert not {m for m in modules if m == "bench.cluster" or m.startswith("bench.cluster.")}


def test_status_imports_neither_torch_nor_submitit_nor_the_registered_code(tmp_path):
    store = Store(tmp_path / "results")
    assert sorted(run(store, [spec(seed=0), spec(seed=1, fail="true")]).values()) == ["done", "failed"]
    [queued] = plan(store, [spec(seed=2)])
    queued.folder.write_status(state=states.QUEUED)
    queued.folder.write_json(
        jobfile.JOB_FILE, {**RECORD, "job_id": "999999999_0"}
    )  # a SLURM cell: asks SLURM
    code = f"import runpy\nsys.argv = ['bench', 'status', '--results', {str(store.root)!r}]\n"
    modules, out = modules_at_exit(code + "runpy.run_module('bench', run_name='__main__', alter_sys=True)")
    assert "3 cells: " in out and "1 done" in out and "999999999_0" in out, out
    heavy = {
        m for m in modules if m.split(".")[0] in ("torch", "torchvision", "submitit", "methods", "tasks")
    }
    assert not heavy, sorted(heavy)[:10]


NOT_A_STATE = "# not a run state"


def state_literals(source: str) -> list[int]:
    """The lines of `source` with a string literal that is a run state's name (states.ALL, or busy), unless
    the line says the word is something else (NOT_A_STATE: a message, a call's ending, optuna's word)."""
    words = {*states.ALL, states.BUSY}
    lines = source.splitlines()
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and node.value in words
        and NOT_A_STATE not in lines[node.lineno - 1]
    )


def test_every_reader_and_writer_names_the_states_through_bench_states():
    """No module of bench/, methods/ or tasks/ but bench/cell/states.py spells a state: a renamed or new state
    is then one edit, and a misspelt one an import error instead of a comparison that is never true."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for top in ("bench", "methods", "tasks")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != ROOT / "bench" / "cell" / "states.py"
        for line in state_literals(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_a_spelt_state_is_found_and_a_marked_word_is_not():
    source = (
        'x = df[df["state"] == "done"]\n'
        'y = {"busy": 1}\n'
        'print("interrupted")  # not a run state: a message\n'
        "z = states.DONE\n"
    )
    assert state_literals(source) == [1, 2]
