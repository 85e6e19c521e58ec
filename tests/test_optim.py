"""The optimiser, the schedule and clipping (bench/engine/optim.py): the formula against a plain
reference, AdamW's decay on matrices only, and runs that use them resume to the same numbers."""

import itertools
import math
import re

import pytest
import torch

from bench.cell.execute import execute
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.engine.optim import build_optimizer, build_schedule, clip_gradients, decay_matrices_only, lr_factor
from bench.errors import BenchError
from tasks.synthetic import Synthetic

from helpers import spec


def reference_factor(t, steps, warmup, schedule):
    """open_clip's cosine_lr written out: warm-up (t + 1) / W, then ½ (1 + cos(π e / es))."""
    if t < warmup:
        return (t + 1) / warmup
    if schedule == "constant":
        return 1.0
    e, es = t - warmup, steps - warmup
    return 0.5 * (1 + math.cos(math.pi * e / es))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
@pytest.mark.parametrize(("steps", "warmup"), [(100, 0), (100, 10), (7, 3)])
def test_the_schedule_is_the_formula(schedule, steps, warmup):
    factors = [lr_factor(t, steps, warmup, schedule) for t in range(steps)]
    assert factors == pytest.approx([reference_factor(t, steps, warmup, schedule) for t in range(steps)])
    assert all(0 <= f <= 1 for f in factors)
    if warmup:
        assert factors[:warmup] == pytest.approx([(t + 1) / warmup for t in range(warmup)])
    if schedule == "cosine":
        assert all(a >= b for a, b in itertools.pairwise(factors[warmup:]))  # never rises
        assert factors[-1] < 0.15 and factors[warmup] == 1.0


def test_the_scheduler_steps_each_group_from_its_own_rate():
    model = torch.nn.Linear(3, 2)
    groups = [
        {"params": [model.weight], "lr": 1.0, "weight_decay": 0.0},
        {"params": [model.bias], "lr": 0.1, "weight_decay": 0.0},
    ]
    hp = {"optimizer": "adam", "schedule": "cosine", "warmup_steps": 2}
    optimizer = build_optimizer(groups, hp)
    schedule = build_schedule(optimizer, hp, 10)
    seen = []
    for _ in range(10):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.step()
    for t, (fast, slow) in enumerate(seen):
        assert fast == pytest.approx(lr_factor(t, 10, 2, "cosine"))
        assert slow == pytest.approx(0.1 * lr_factor(t, 10, 2, "cosine"))


def test_adamw_decays_the_matrices_only_and_adam_decays_everything():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    scale = torch.nn.Parameter(torch.tensor(2.0))
    groups = [{"params": [*net.parameters(), scale], "lr": 1e-3, "weight_decay": 0.2}]
    split = decay_matrices_only(groups)
    assert [len(g["params"]) for g in split] == [1, 4]
    assert split[0]["params"][0] is net[0].weight and split[0]["weight_decay"] == 0.2
    assert split[1]["weight_decay"] == 0.0 and any(p is scale for p in split[1]["params"])
    adamw = build_optimizer(groups, {"optimizer": "adamw"})
    assert isinstance(adamw, torch.optim.AdamW) and [g["weight_decay"] for g in adamw.param_groups] == [
        0.2,
        0.0,
    ]
    adam = build_optimizer(groups, {"optimizer": "adam"})
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["weight_decay"] == 0.2


def test_clipping_bounds_the_global_norm():
    net = torch.nn.Linear(5, 5)
    (net(torch.randn(8, 5)) * 100).sum().backward()
    before = torch.cat([p.grad.flatten() for p in net.parameters()]).norm()
    clip_gradients(net, 0.5)
    after = torch.cat([p.grad.flatten() for p in net.parameters()]).norm()
    assert before > 0.5 and after == pytest.approx(0.5, rel=1e-5)
    clip_gradients(net, 0.0)  # off
    assert torch.cat([p.grad.flatten() for p in net.parameters()]).norm() == pytest.approx(0.5, rel=1e-5)


RECIPE = {
    "optimizer": "adamw",
    "weight_decay": "0.2",
    "schedule": "cosine",
    "warmup_steps": "10",
    "grad_clip": "1.0",
}


def test_a_run_with_adamw_cosine_and_clipping_resumes_to_the_same_numbers_and_logs_its_rate(results):
    s = spec("gentle_clip", steps="60", checkpoint_every="20", eval_every="25", **RECIPE)
    (whole,) = plan(Store(results / "a"), [s])
    assert execute(whole.folder) == "done"
    (broken,) = plan(Store(results / "b"), [s])

    def stop_at_50(step, metrics):
        if step == 50:
            raise RuntimeError("stopped")

    assert execute(broken.folder, on_eval=stop_at_50) == "failed"
    assert execute(broken.folder) == "done"
    assert broken.folder.metrics() == whole.folder.metrics()
    log = whole.folder.file("log.txt").read_text()
    (rate,) = re.findall(r"step 50/60 loss=\S+ lr=(\S+)", log)
    assert float(rate) == pytest.approx(1e-3 * lr_factor(49, 60, 10, "cosine"), rel=1e-3)
    plain = plan(Store(results / "c"), [spec("gentle_clip", steps="60", checkpoint_every="20")])[0]
    execute(plain.folder)
    assert plain.folder.metrics() != whole.folder.metrics()  # the recipe changes the numbers


def test_fp16_on_the_cpu_is_refused_before_anything_runs():
    with pytest.raises(BenchError, match="amp=fp16 needs CUDA"):
        Synthetic(amp="fp16", device="cpu")


def test_bf16_autocast_trains_on_the_cpu_with_float32_losses(results):
    (cell,) = plan(Store(results), [spec("gentle_clip", steps="20", checkpoint_every="0", amp="bf16")])
    assert execute(cell.folder) == "done", cell.folder.status().get("error")
    assert all(math.isfinite(v) for v in cell.folder.metrics().values())
