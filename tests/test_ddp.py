"""Data-parallel training (bench/engine/distributed.py): 2 gloo ranks on the CPU take the same 50 steps as
one process, with the same losses and the same final metrics; `run --nproc 2` runs a cell on 2 ranks."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.multiprocessing as mp

from bench import registry
from bench.cell.spec import ROOT
from bench.cell.store import Store
from bench.cli.main import main
from bench.engine.batches import BatchSampler, batch_shape
from bench.engine.distributed import Dist
from bench.engine.embed import embed_step
from bench.engine.fit import fit_data, frozen_encoders
from bench.engine.loader import make_inputs, needed
from bench.engine.precision import Precision
from bench.engine.split import make_split
from bench.engine.train import build_model

from helpers import run, spec

STEPS = 50
TASK = {
    "n_train": "240",
    "n_test": "60",
    "n_classes": "5",
    "width": "32",
    "embed_dim": "16",
    "head_dropout": "0",
    "batch_size": "30",  # 10 paired + 20 unpaired rows: odd shards on 2 ranks
}
METHODS = {"gentle_clip": {}, "s_clip": {}, "clip": {"unpaired_negatives": "true"}, "sotalign": {}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_steps(method_name: str, method_raw: dict, dist: Dist) -> dict:
    """STEPS Adam steps of `method_name` on the synthetic task: the losses, the first step's gradients
    and the final metrics."""
    torch.set_num_threads(1)
    entry = registry.tasks().get("synthetic")
    hp = entry.resolve(TASK)
    task = entry.create(hp)
    data = task.load()
    m = registry.methods().get(method_name)
    method = m.create(m.resolve(method_raw))
    split = make_split(len(data), 0.25, 0, hp["unpaired"], hp["val_fraction"])
    shape = batch_shape(split, hp["batch_size"], hp["paired_fraction"])
    torch.manual_seed(0)
    model = build_model(task, method, data, hp)
    optimizer = torch.optim.Adam(model.param_groups(hp["lr"], hp["encoder_lr"], hp["weight_decay"]))
    sampler = BatchSampler(split, shape, 0)
    precision, wanted = Precision("none", dist.device), method.embeddings()
    encoders = frozen_encoders(method, task, data) or (model.encoder_a, model.encoder_b)  # the fit stage
    features = fit_data(encoders, data, split, dist.device) if method.fits else None
    if features is not None:
        method.fit(features)
    losses, grads = [], {}
    for step in range(STEPS):
        inputs = make_inputs(task, data, sampler.next(), step, 0, needed(wanted, "two"))
        batch = embed_step(model, data, inputs, wanted, dist.device, precision, dist=dist, features=features)
        loss, _ = method.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(model)
        if step == 0:  # Adam is nearly blind to the gradients' scale: compare them themselves
            grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        optimizer.step()
        model.clamp_scale()
        losses.append(float(loss.detach()))
    model.eval()
    with torch.no_grad():
        metrics = task.evaluate(model, data, split.paired)
    return {"losses": losses, "grads": grads, "metrics": metrics}


def rank_main(rank: int, world: int, port: int, out: str) -> None:
    """One rank of the 2-rank run: its results (rank 0's) saved to `out`."""
    import os

    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    dist = Dist.from_env(torch.device("cpu"))
    results = {name: train_steps(name, raw, dist) for name, raw in METHODS.items()}
    if dist.is_main:
        torch.save(results, out)
    dist.close()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "results.pt"
    mp.spawn(rank_main, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return torch.load(out)


def test_shards_are_contiguous_with_the_remainder_first():
    shards = [Dist(rank, 3).shard(8) for rank in range(3)]
    assert shards == [slice(0, 3), slice(3, 6), slice(6, 8)]
    assert [Dist(rank, 3).shard(1) for rank in range(3)] == [slice(0, 1), slice(1, 1), slice(1, 1)]


@pytest.mark.parametrize("name", METHODS)
def test_two_ranks_take_the_steps_of_one(two_ranks, name):
    one = train_steps(name, METHODS[name], Dist())
    two = two_ranks[name]
    assert len(two["losses"]) == STEPS
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(one["losses"]), rtol=1e-5, atol=1e-6)
    assert two["grads"].keys() == one["grads"].keys()
    for key, grad in one["grads"].items():
        torch.testing.assert_close(two["grads"][key], grad, rtol=1e-4, atol=1e-6, msg=key)
    assert two["metrics"].keys() == one["metrics"].keys()
    for key, value in one["metrics"].items():
        assert two["metrics"][key] == pytest.approx(value, abs=0.02), key  # a tie may flip one item


def logged(folder, name: str) -> list[float]:
    """The value of `name=` on each of the run's step lines, in order."""
    return [
        float(v) for v in re.findall(rf"step \d+/\d+ .*\b{name}=(\S+)", folder.file("log.txt").read_text())
    ]


def test_run_nproc_logs_the_losses_of_one_rank_and_ends_with_its_metrics(results):
    """`run --nproc 2` through the real loop: the logged loss at step 50 and at the end equals the 1-rank
    run's to 1e-5 relative (head_dropout=0), each term to 1e-3, the metrics up to float32 summation order;
    rank 1 wrote nothing of its own."""
    store = Store(results)
    cell = spec("gentle_clip", steps="60", n_train="120", width="32", checkpoint_every="20", head_dropout="0")
    assert run(store, [cell], nproc=2) == {cell.run_id(): "done"}
    folder = store.folder(cell.run_id())
    log = folder.file("log.txt").read_text()
    assert log.count(" start ") == 1 and folder.metrics()
    alone = Store(results.parent / "alone")
    run(alone, [cell])
    single = alone.folder(cell.run_id())
    assert len(logged(folder, "loss")) == 2  # steps 50 and 60
    assert logged(folder, "loss") == pytest.approx(logged(single, "loss"), rel=1e-5)
    for term in ("clip", "ssl", "sdd", "mmd"):  # MMD's 19 kernels amplify float32 round-off (docs/methods.md)
        assert logged(folder, term) == pytest.approx(logged(single, term), rel=1e-3), term
    for key, value in single.metrics().items():
        assert folder.metrics()[key] == pytest.approx(value, abs=0.02), key


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--nproc", "2", "--jobs", "2"], "runs one cell at a time on 2 ranks: drop --jobs"),
        (["--nproc", "2", "--cluster", "local"], "set tasks_per_node in the profile"),
        (["--nproc", "0"], "give a positive number of ranks per cell"),
    ],
)
def test_nproc_refuses_what_cannot_work(results, capsys, flags, message):
    args = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results), *flags]
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_a_killed_two_rank_run_resumes_from_rank_0s_checkpoint_to_the_one_rank_numbers(results):
    """The whole `run --nproc 2` process group killed after its first checkpoint; the next `run` resumes
    both ranks from it and ends with the metrics of an uninterrupted 1-rank run (up to summation order)."""
    params = {"steps": "400", "n_train": "120", "n_test": "100", "width": "32", "checkpoint_every": "40"}
    params["head_dropout"] = "0"
    args = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0", "--pair-ratio", "0.1"]
    args += ["--nproc", "2", "--results", str(results)]
    args += [a for k, v in params.items() for a in ("--task-param", f"{k}={v}")]
    sweep = subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not list(results.glob("runs/*/checkpoint.pt")):
            assert time.monotonic() < deadline and sweep.poll() is None, "no checkpoint"
            time.sleep(0.05)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    (folder,) = Store(results).all_folders()
    deadline = time.monotonic() + 60  # the ranks end with their launcher (its parent-death signal)
    while folder.state() != "interrupted":
        assert time.monotonic() < deadline, folder.state()
        time.sleep(0.1)
    assert main(args) == 0
    log = folder.file("log.txt").read_text()
    assert re.search(r"resumed from the checkpoint at step (\d+)", log), log
    alone = Store(results.parent / "alone")
    cell = spec("clip", **params)
    assert cell.run_id() == folder.run_id  # the same cell, on one rank
    assert run(alone, [cell]) == {cell.run_id(): "done"}
    for key, value in alone.folder(cell.run_id()).metrics().items():
        assert folder.metrics()[key] == pytest.approx(value, abs=0.02), key
