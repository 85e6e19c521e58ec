"""The replication studies (studies/s-clip-rs.yaml, studies/set-clip-coco.yaml) as written: validated,
planned (the cells they would run, nothing written) and priced in GPU-hours from cost records."""

import pandas as pd
import pytest

from bench.cell.spec import ROOT
from bench.study.cost import estimate
from bench.study.file import load_study
from bench.study.plan import plan_study


def test_the_s_clip_rs_study_is_s_clips_train_rs_script(tmp_path):
    study = load_study(ROOT / "studies" / "s-clip-rs.yaml")
    assert [m.name for m in study.methods] == ["clip", "s_clip"] and study.ratios == (0.1,)
    assert study.tuning is None and study.tasks[0].pairs == ((0, 0),)
    cells = plan_study(study, tmp_path).cells
    assert len(cells) == 2 and not list(tmp_path.iterdir()), "planning wrote something"
    p = cells[0].spec.task_params
    assert (p["encoder"], p["pretrained"], p["mode"], p["datasets"]) == (
        "RN50",
        "openai",
        "finetune",
        "rsicd,ucm,sydney",
    )
    assert (p["lr"], p["encoder_lr"], p["batch_size"], p["paired_fraction"]) == (5e-5, 5e-5, 256, 0.5)
    assert (p["warmup_steps"], p["schedule"], p["steps"], p["amp"]) == (10, "cosine", 200, "fp16")
    assert (
        p["splits"] == "" and p["zero_shot"] == "rsicd_cls,ucm_cls,whu_rs19,rsscn7,aid"
    )  # S-CLIP's val splits
    assert study.report.metric == "rsicd_one_a2b_r1"  # scored under S-CLIP's one-caption protocol


def test_the_set_clip_coco_study_is_the_released_preset(tmp_path):
    study = load_study(ROOT / "studies" / "set-clip-coco.yaml")
    assert [m.name for m in study.methods] == ["clip", "gentle_clip", "gentle_clip_released"]
    cells = plan_study(study, tmp_path).cells
    assert len(cells) == 3 * 3 and {c.spec.pair_ratio for c in cells} == {0.34375}
    p = cells[0].spec.task_params
    assert p["preset"] == "released" and p["source"] == "hf:yerevann/coco-karpathy"


def record(spec, gpu_hours, steps, device="cuda", **change):
    params = {**spec.task_params, "steps": steps, **change}
    return {
        "method": spec.method,
        "task": spec.task,
        "state": "done",
        "device": device,
        "gpu_hours": gpu_hours,
        "steps": steps,
        **{f"p_task_{k}": v for k, v in params.items()},
    }


@pytest.mark.parametrize("name", ["s-clip-rs", "set-clip-coco"])
def test_gpu_hours_come_from_cost_records_of_the_same_setup(name, tmp_path):
    specs = [c.spec for c in plan_study(load_study(ROOT / "studies" / f"{name}.yaml"), tmp_path).cells]
    first = specs[0]
    same = [s for s in specs if s.method == first.method]
    records = pd.DataFrame(
        [
            record(first, 0.02, 20),  # 0.001 GPU-hours a step
            record(first, 0.04, 20),  # 0.002: the median of the two is 0.0015
            record(first, 9.0, 20, device="cpu"),  # not a GPU run
            record(first, 9.0, 20, batch_size=7),  # another setup
        ]
    )
    got = estimate(specs, records)
    steps = float(first.task_params["steps"])
    assert got.known == len(same) and got.unknown == len(specs) - len(same)
    assert got.gpu_hours == pytest.approx(0.0015 * steps * len(same))
    assert estimate(specs, pd.DataFrame()).known == 0
