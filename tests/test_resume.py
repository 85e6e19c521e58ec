"""An interrupted run resumes from its checkpoint and ends with the same numbers (CPU)."""

import pytest

from bench.cell.execute import execute
from bench.cell.store import Store
from bench.cell.sweep import plan

from helpers import spec


class Stop(Exception):
    pass


@pytest.mark.parametrize("method", ["clip", "sotalign"])  # sotalign fits its teacher again on resuming
def test_resume_gives_the_same_metrics(results, method):
    store_a, store_b = Store(results / "a"), Store(results / "b")
    s = spec(method, steps="90", checkpoint_every="30", eval_every="25")
    (whole,) = plan(store_a, [s])
    assert execute(whole.folder) == "done"

    (broken,) = plan(store_b, [s])

    def stop_at_50(step, metrics):
        if step == 50:
            raise Stop

    assert execute(broken.folder, on_eval=stop_at_50) == "failed"
    assert "Stop" in broken.folder.status()["error"]
    assert broken.folder.file("checkpoint.pt").exists()
    assert execute(broken.folder) == "done"
    assert "resumed from the checkpoint at step 30" in broken.folder.file("log.txt").read_text()
    assert broken.folder.metrics() == whole.folder.metrics()


def test_same_spec_same_numbers(results):
    s = spec(seed=3)
    a, b = plan(Store(results / "a"), [s])[0], plan(Store(results / "b"), [s])[0]
    execute(a.folder), execute(b.folder)
    assert a.folder.metrics() == b.folder.metrics()
    c = plan(Store(results / "c"), [spec(seed=4)])[0]
    execute(c.folder)
    assert c.folder.metrics() != a.folder.metrics()


def test_a_stopping_callback_ends_the_run_pruned_and_resumable(results):
    """on_eval's reason stops the run: state pruned (never failed), a checkpoint at that step, no metrics;
    the next execute resumes it and ends with the numbers of a run never stopped."""
    s = spec(steps="60", checkpoint_every="0", eval_every="20")
    (whole,) = plan(Store(results / "a"), [s])
    execute(whole.folder)
    (cell,) = plan(Store(results / "b"), [s])
    seen = []

    def prune_at_40(step, metrics):
        seen.append((step, sorted(metrics)))
        return "enough" if step == 40 else None

    assert execute(cell.folder, on_eval=prune_at_40) == "pruned"
    assert [step for step, _ in seen] == [20, 40]
    assert "a2b_r1" in seen[0][1]
    status = cell.folder.status()
    assert status["state"] == "pruned" and status["error"] == "enough"
    assert not cell.folder.file("metrics.json").exists()
    assert execute(cell.folder) == "done"
    assert "resumed from the checkpoint at step 40" in cell.folder.file("log.txt").read_text()
    assert cell.folder.metrics() == whole.folder.metrics()


def test_a_run_whose_steps_come_from_loader_workers_resumes_to_the_in_process_numbers(results):
    """Steps made by 2 loader worker processes, which draw batches ahead of training (gentle_clip reads
    the rows of all three index streams and both views): stopped at step 50, resumed from the checkpoint
    at step 30, the run ends with the metrics and history of an uninterrupted run whose steps were made
    in this process (num_workers=0)."""
    (alone,) = plan(Store(results / "a"), [spec("gentle_clip", eval_every="25", num_workers="0")])
    assert execute(alone.folder) == "done"
    (broken,) = plan(Store(results / "b"), [spec("gentle_clip", eval_every="25", num_workers="2")])

    def stop_at_50(step, metrics):
        if step == 50:
            raise Stop

    assert execute(broken.folder, on_eval=stop_at_50) == "failed"
    assert execute(broken.folder) == "done"
    assert "resumed from the checkpoint at step 40" in broken.folder.file("log.txt").read_text()
    assert broken.folder.metrics() == alone.folder.metrics()
    history = broken.folder.file("history.json").read_text()
    assert history == alone.folder.file("history.json").read_text()
