"""The stopped worker's watchdog (bench/cell/worker.py): a worker told to stop whose main thread does not end
(its stop swallowed, or stuck in a C call) is ended by the watchdog, which records its cell failed with
every thread's stack; a cell the worker recorded itself, or another process's, is left alone."""

import os
import signal
import subprocess
import sys
import textwrap

from bench.cell import states
from bench.cell.spec import ROOT
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.cell.worker import end_stopped_worker

from helpers import spec


def _folder(results):
    return plan(Store(results), [spec(seed=0)])[0].folder


def test_the_watchdog_records_the_running_cell_failed_and_exits(results):
    folder = _folder(results)
    folder.write_status(state=states.RUNNING, pid=os.getpid(), started_at="then")
    exits = []
    end_stopped_worker(folder, "SIGTERM", 5.0, exit=exits.append)
    status = folder.status()
    assert exits == [128 + signal.SIGTERM]
    assert status["state"] == states.FAILED and status["started_at"] == "then"
    assert status["error"].startswith("WorkerStopped: the worker was stopped by SIGTERM and did not end")
    assert "within 5 s" in status["error"]
    assert "failed: WorkerStopped" in folder.file("log.txt").read_text()


def test_the_watchdog_leaves_a_cell_recorded_or_run_by_another_process_alone(results):
    folder = _folder(results)
    for status in (
        {"state": states.FAILED, "pid": os.getpid(), "error": "WorkerStopped: recorded by the worker"},
        {"state": states.RUNNING, "pid": os.getpid() + 1},
    ):
        folder.write_status(**status)
        exits = []
        end_stopped_worker(folder, "SIGTERM", 5.0, exit=exits.append)
        assert exits == [128 + signal.SIGTERM] and folder.status() == status
    exits = []
    end_stopped_worker(None, "SIGINT", 5.0, exit=exits.append)  # between cells: nothing to record
    assert exits == [128 + signal.SIGTERM]


def test_a_stop_its_main_thread_never_answers_ends_the_worker_through_the_watchdog(results):
    """A process set up as a worker (its handlers and watchdog) whose SIGTERM handler does nothing and
    whose main thread then sits in one long C call (time.sleep): SIGTERM still ends it, with exit code
    143, its cell recorded failed and the main thread's stack (the sleep) in worker.txt."""
    folder = _folder(results)
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        import bench.cell.worker as worker
        from bench.cell.store import RunFolder
        worker.STOPPED_GRACE_S = 0.2
        worker._start_watchdog()
        signal.signal(signal.SIGTERM, lambda signum, frame: None)  # the stop is swallowed
        folder = RunFolder({str(folder.path)!r})
        worker._running = folder
        folder.write_status(state="running", pid=os.getpid())
        out = os.open(folder.file("worker.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 2)
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    status = folder.status()
    assert status["state"] == states.FAILED, status
    assert "did not end within 0.2 s" in status["error"]
    stacks = folder.file("worker.txt").read_text()
    assert "Current thread" in stacks and "<module>" in stacks, stacks
