"""Where and in what precision a run computes (bench/engine/precision.py, the `device` and `amp` task
parameters): `device=cpu` forces the CPU where the default would be CUDA, a run that needs a GPU on a
machine without one is refused before anything is written, TF32 is switched on for CUDA only, and under
bf16 autocast the embeddings and every loss leave in float32."""

import pytest
import torch

from bench import registry
from bench.cell.execute import execute
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.cli.main import main
from bench.engine.embed import embed_step
from bench.engine.fit import fit_data
from bench.engine.loader import make_inputs, needed
from bench.engine.precision import Precision, resolve_device
from bench.engine.split import Split
from bench.engine.train import build_model
from bench.errors import BenchError
from methods.base import FEATURES

from conftest import fast_args
from helpers import spec

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="the refusals are for machines without a GPU")


def test_auto_is_the_default_and_cpu_forces_the_cpu():
    assert resolve_device("auto", CUDA) == CUDA and resolve_device("auto", CPU) == CPU
    assert resolve_device("cpu", CUDA) == CPU


@NO_GPU
def test_cuda_without_a_gpu_is_one_error():
    with pytest.raises(BenchError, match="device=cuda but torch sees no GPU"):
        resolve_device("cuda", CPU)


def test_device_cpu_runs_on_the_cpu_where_the_default_is_cuda(results):
    """The cell is handed CUDA as its default device (as a GPU job is); `device=cpu` keeps it on the CPU,
    so it trains here, GPU or none, and records the CPU."""
    (cell,) = plan(Store(results), [spec(steps="10", device="cpu")])
    assert execute(cell.folder, device=CUDA) == "done", cell.folder.status().get("error")
    assert cell.folder.status()["cost"]["device"] == "cpu"


@NO_GPU
@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("device=cuda", "task synthetic: device=cuda but torch sees no GPU on this machine"),
        ("amp=fp16", "task synthetic: amp=fp16 needs a GPU (its grad scaler) and torch sees none"),
    ],
)
@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"], ["--nproc", "2"]])
def test_a_run_here_that_needs_a_gpu_is_refused_before_anything_is_written(
    tmp_path, capsys, param, message, jobs
):
    results = tmp_path / "results"
    args = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results), *jobs]
    assert main([*args, *fast_args(), "--task-param", param]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not results.exists()


@NO_GPU
@pytest.mark.parametrize("where", [[], ["--cluster", "debug"]])
def test_a_dry_run_of_cells_that_ask_for_a_gpu_is_not_refused(tmp_path, capsys, where):
    """A dry run only plans, here or for a cluster, whose job's node has the GPU."""
    args = ["run", "--methods", "clip", "--tasks", "synthetic", "--dry-run", *where]
    args += ["--results", str(tmp_path / "results"), *fast_args(), "--task-param", "device=cuda"]
    assert main(args) == 0, capsys.readouterr().err
    assert "3 cells: 3 pending" in capsys.readouterr().out and not (tmp_path / "results" / "runs").exists()


def test_tf32_is_switched_on_for_cuda_only():
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    before = [f.allow_tf32 for f in flags]  # properties of torch's: set and restored by hand
    try:
        for f in flags:
            f.allow_tf32 = False
        Precision("bf16", CPU)
        assert not any(f.allow_tf32 for f in flags)
        Precision("none", CUDA)  # no CUDA call: only the flags
        assert all(f.allow_tf32 for f in flags)
    finally:
        for f, value in zip(flags, before, strict=True):
            f.allow_tf32 = value


def test_only_fp16_scales_the_loss():
    assert Precision("none", CPU).scaler is None and Precision("bf16", CPU).scaler is None
    with pytest.raises(BenchError, match="amp=fp16 needs a CUDA device"):
        Precision("fp16", CPU)


TRAINED = [n for n in registry.methods().names() if not registry.methods().get(n).cls.closed_form]
SPLIT = Split(torch.arange(100), torch.arange(100, 200), torch.arange(100, 200))  # holds the step's rows
TASK = {"n_train": "200", "n_test": "20", "width": "32", "embed_dim": "16", "head_dropout": "0"}


@pytest.mark.parametrize("name", TRAINED)
def test_under_bf16_the_embeddings_and_the_loss_are_float32(name):
    """The towers and heads run in bfloat16 (the loss moves from the float32 one), what leaves them is
    float32, and so is the loss with each of its terms."""
    entry = registry.tasks().get("synthetic")
    hp = entry.resolve(TASK)
    task = entry.create(hp)
    data = task.load()
    m = registry.methods().get(name)
    method = m.create(m.resolve({}))
    torch.manual_seed(0)
    model = build_model(task, method, data, hp)
    features = None
    if method.fits or method.embeddings() & FEATURES:  # its fit stage on the frozen features, as the engine's
        features = fit_data((model.encoder_a, model.encoder_b), data, SPLIT, CPU)
    if method.fits:
        method.fit(features)
    wanted = method.embeddings()
    idx = (torch.arange(8), torch.arange(100, 112), torch.arange(150, 162))
    inputs = make_inputs(task, data, idx, 0, 0, needed(wanted, "two"))
    losses = {}
    for amp in ("none", "bf16"):
        batch = embed_step(model, data, inputs, wanted, CPU, Precision(amp, CPU), features=features)
        for key in wanted:
            z = getattr(batch, key)
            for part in z if isinstance(z, tuple) else (z,):  # None: a part the task has not (keywords)
                assert part is None or part.dtype == torch.float32, (amp, key)
        loss, terms = method.loss(batch)
        assert loss.dtype == torch.float32 and all(isinstance(v, float) for v in terms.values())
        losses[amp] = float(loss.detach())
    assert losses["bf16"] != losses["none"]
    assert losses["bf16"] == pytest.approx(losses["none"], rel=0.05)
