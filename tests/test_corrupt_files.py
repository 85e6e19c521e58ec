"""Corrupt run files are survived (issue 12): a run file that cannot be read is reported with its path by
`status`, `collect` and `table`, which go on with the other runs and count the broken ones; `run` redoes
the cell (or rewrites its spec.json / about.json); a corrupt checkpoint is set aside and the run starts
over; a run folder deleted while its cell runs fails that cell alone."""

import shutil
import threading
import time

import pytest
import yaml

import bench.cell.execute
from bench.cell.store import Store
from bench.cell.sweep import plan, run_cells
from bench.cli.main import main
from bench.cli.run import print_outcome

from conftest import FAST, fast_args
from helpers import spec

GRID = ["--methods", "clip", "--tasks", "synthetic", "--pair-ratio", "0.1", "--seeds", "0,1", "--jobs", "1"]


def run_grid(results, *extra: str) -> int:
    return main(["run", *GRID, "--results", str(results), *fast_args(), *extra])


def halve(path) -> None:
    """Keep the first half of the file, as a full disk or a copy cut short would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def line(state: str, folder) -> str:
    """The start of `status`'s line of a cell with no cluster job."""
    return f"{state:<11} {'-':<12} {folder.run_id}"


def starts(folder) -> int:
    return folder.file("log.txt").read_text().count(" start ")


@pytest.mark.parametrize("name", ["status.json", "metrics.json", "spec.json", "about.json"])
def test_a_truncated_run_file_is_reported_counted_and_redone(results, capsys, name):
    assert run_grid(results) == 0
    broken, healthy = Store(results).all_folders()
    metrics, healthy_status = broken.metrics(), healthy.status()
    path = broken.file(name)
    halve(path)
    capsys.readouterr()

    assert main(["status", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert f"cannot read {path}: not valid JSON" in err
    assert "1 of 2 runs have files that cannot be read" in err
    assert line("done", healthy) in out
    state_of_broken = {"status.json": "pending", "metrics.json": "pending", "about.json": "done"}.get(name)
    if state_of_broken:
        assert line(state_of_broken, broken) in out
        assert "2 cells:" in out
    else:  # no spec: it cannot be listed
        assert broken.run_id not in out and "1 cells: 1 done" in out
    assert "(1 left out: no readable spec.json)" in err if name == "spec.json" else "(0 left out" in err

    assert main(["collect", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert str(path) in err and "1 of 2 runs have files that cannot be read" in err
    table = (results / "results.csv").read_text()
    assert healthy.run_id in table and (broken.run_id in table) == (name != "spec.json")
    assert out.startswith("1 runs (1 done)" if name == "spec.json" else "2 runs (")

    assert main(["table", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert str(path) in err and "1 of 2 runs have files that cannot be read" in err
    assert "| CLIP | " in out and "| CLIP | —" not in out  # the healthy run's number, under its label

    assert run_grid(results) == 0
    out, err = capsys.readouterr()
    assert broken.state() == "done" and broken.metrics() == metrics
    assert not broken.unreadable() and not healthy.unreadable()
    assert healthy.status() == healthy_status and starts(healthy) == 1  # the healthy cell was left alone
    if name in ("status.json", "metrics.json"):  # unknown what it did: its results cleared, run anew
        log = broken.file("log.txt").read_text()
        assert log.startswith("== ") and f"cannot read {path}" in log and "runs anew" in log
        assert starts(broken) == 1
    else:  # the run id names the spec: the file is written anew, the finished run kept
        assert f"cannot read {path}: not valid JSON" in err and "written anew" in err
        assert starts(broken) == 1 and broken.status()["finished_at"]
    assert main(["status", "--results", str(results)]) == 0
    out, err = capsys.readouterr()
    assert "cannot be read" not in err and "2 cells: 2 done" in out


def test_study_status_reports_unreadable_files_and_names_a_cell_by_the_study(results, tmp_path, capsys):
    """`study status` reports each file that cannot be read as `status` does, and lists a failed cell whose
    spec.json is cut short under the study's own label of it; `study run` then redoes the cells."""
    study = tmp_path / "tiny.yaml"
    grid = {
        "tasks": {"synthetic": {"params": FAST}},
        "methods": ["clip"],
        "pair_ratios": [0.1],
        "seeds": [0, 1],
    }
    study.write_text(yaml.safe_dump(grid))
    argv = [str(study), "--results", str(results), "--jobs", "1"]
    assert main(["study", "run", *argv]) == 0
    first, second = Store(results).all_folders()
    halve(first.file("status.json"))
    second.write_status(state="failed", error="stopped by the test")
    halve(second.file("spec.json"))
    capsys.readouterr()

    assert main(["study", "status", *argv[:3]]) == 0
    out, err = capsys.readouterr()
    assert f"cannot read {first.file('status.json')}: not valid JSON" in err
    assert f"cannot read {second.file('spec.json')}: not valid JSON" in err
    assert "2 of 2 runs have files that cannot be read" in err
    assert f"{line('failed', second)}  clip · synthetic · r=0.1" in out and "stopped by the test" in out
    assert "pending     1 cell(s) of clip (as given) on synthetic" in out

    assert main(["study", "run", *argv]) == 0
    capsys.readouterr()
    assert main(["study", "status", *argv[:3]]) == 0
    out, err = capsys.readouterr()
    assert "cannot be read" not in err and "2 cells: 2 done" in out


class Stop(Exception):
    pass


def test_a_truncated_checkpoint_is_set_aside_and_the_run_starts_over(results, capsys):
    """A run stopped at step 50 (checkpoint at 30) whose checkpoint is then cut in half: reported by
    `status`, set aside by the next run, which starts from step 0 and ends as a run never stopped."""
    s = spec(steps="90", checkpoint_every="30", eval_every="25")
    (whole,) = plan(Store(results / "a"), [s])
    assert bench.cell.execute.execute(whole.folder) == "done"
    (cell,) = plan(Store(results / "b"), [s])

    def stop_at_50(step, metrics):
        if step == 50:
            raise Stop

    assert bench.cell.execute.execute(cell.folder, on_eval=stop_at_50) == "failed"
    checkpoint = cell.folder.file("checkpoint.pt")
    halve(checkpoint)
    assert main(["status", "--results", str(results / "b")]) == 0
    out, err = capsys.readouterr()
    assert f"cannot read {checkpoint}: not a torch checkpoint" in err and "1 of 1 runs" in err
    assert line("failed", cell.folder) in out

    assert bench.cell.execute.execute(cell.folder) == "done"
    log = cell.folder.file("log.txt").read_text()
    assert f"cannot read {checkpoint}: RuntimeError" in log
    assert "set aside as checkpoint.pt.corrupt, starting from step 0" in log
    assert "resumed from" not in log
    assert cell.folder.file("checkpoint.pt.corrupt").read_bytes() and checkpoint.is_file()
    assert cell.folder.metrics() == whole.folder.metrics()
    assert cell.folder.status()["cost"]["steps"] == 90


def test_a_folder_deleted_while_its_cell_runs_fails_that_cell_alone(results, capsys, monkeypatch):
    """--jobs 1: the first cell's folder is deleted once it has started; the sweep goes on, the summary
    names the cell, and no traceback reaches the user."""
    real_train = bench.cell.execute.train
    victims = []

    def deleting_train(spec, task, method, data, folder, *args):
        if not victims:
            victims.append(folder)
            shutil.rmtree(folder.path)
        return real_train(spec, task, method, data, folder, *args)

    monkeypatch.setattr(bench.cell.execute, "train", deleting_train)
    assert main(["run", *GRID, "--seeds", "0,1,2", "--results", str(results), *fast_args()]) == 1
    out, err = capsys.readouterr()
    [victim] = victims
    assert not victim.path.exists()
    assert f": its run folder {victim.path} was deleted while the sweep ran" in out
    assert "1 of 3 runs failed" in err and "Traceback" not in out + err
    folders = Store(results).all_folders()
    assert len(folders) == 2 and all(f.state() == "done" for f in folders)


def test_a_folder_deleted_while_a_worker_runs_its_cell_fails_that_cell_alone(results, capsys):
    """--jobs 2: a long cell's folder is deleted while a worker runs it; that cell fails, the other worker
    finishes the rest, and the summary names the cell."""
    store = Store(results)
    long_spec = spec(seed=0, steps="100000", checkpoint_every="20", eval_every="0")
    cells = plan(store, [long_spec, spec(seed=1), spec(seed=2)])
    outcome = {}
    sweep = threading.Thread(target=lambda: outcome.update(run_cells(cells, jobs=2)), daemon=True)
    sweep.start()
    victim = cells[0].folder
    deadline = time.monotonic() + 120
    while victim.recorded_state() != "running":
        assert time.monotonic() < deadline and sweep.is_alive(), "the long cell never started"
        time.sleep(0.05)
    while victim.path.exists():  # the worker may write a file while the tree is removed: try again
        shutil.rmtree(victim.path, ignore_errors=True)
    sweep.join(timeout=240)
    assert not sweep.is_alive(), "the sweep did not finish after the folder of its long cell was deleted"
    assert [outcome[c.folder.run_id] for c in cells] == ["failed", "done", "done"]
    assert not victim.path.exists()
    capsys.readouterr()
    assert print_outcome(cells, outcome, lambda c: c.folder.status().get("error")) == 1
    out, err = capsys.readouterr()
    assert f"FAILED {long_spec.label()}: its run folder {victim.path} was deleted while the sweep ran" in out
    assert "1 of 3 runs failed" in err
