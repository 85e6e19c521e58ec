"""The released code's protocol as the vl preset `released`: its values apply where a run gives none,
explicit values win, the run records it, it needs a COCO source, and a short cell runs with it on COCO
files in Karpathy's layout (the image tower from random weights, offline)."""

from __future__ import annotations

import pytest
import torch
import vl_files

from bench import registry
from bench.cell.execute import execute
from bench.cell.grid import Grid, expand
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.errors import BenchError
from tasks.vl import sources
from tasks.vl.released import RELEASED


@pytest.fixture
def coco(tmp_path) -> str:
    return f"local:{vl_files.karpathy(tmp_path / 'coco', 'coco')}"


def _resolve(**raw) -> dict:
    return registry.tasks().get("vl").resolve({k: str(v) for k, v in raw.items()})


def test_the_preset_sets_the_released_values_where_none_are_given(coco):
    p = _resolve(preset="released", source=coco)
    assert {k: p[k] for k in RELEASED} == RELEASED
    assert p["steps"] == 7_050 and p["batch_size"] == 64
    assert round(p["batch_size"] * p["paired_fraction"]) == 22
    assert (p["lr"], p["encoder_lr"], p["weight_decay"], p["ssl_views"]) == (1e-3, 1e-5, 1e-3, "original")
    assert _resolve(source=coco)["steps"] == 200 and _resolve()["preset"] == "none"


def test_explicit_values_win_over_the_preset(coco):
    p = _resolve(preset="released", source=coco, steps=5, image_size=32, dataset="flickr30k")
    assert (p["steps"], p["image_size"], p["dataset"]) == (5, 32, "flickr30k")
    assert p["encoder"] == "released" and p["n_train"] == 15_040


def test_a_sweep_records_the_preset_and_its_values(coco):
    grid = Grid(
        methods=["gentle_clip"],
        tasks=["vl"],
        ratios=[22 / 64],
        seeds=[0],
        split_seed=0,
        method_params={},
        task_params={"preset": "released", "source": coco, "vl.steps": "4"},
    )
    (spec,) = expand(grid)
    assert spec.task_params["preset"] == "released" and spec.task_params["steps"] == 4
    assert spec.task_params["n_train"] == 15_040 and spec.task_params["subset"] == "first"


def test_the_preset_needs_a_coco_source():
    entry = registry.tasks().get("vl")
    with pytest.raises(BenchError, match=r"^task vl: preset=released trains on COCO") as err:
        entry.create(_resolve(preset="released"))
    assert "\n" not in str(err.value)
    with pytest.raises(BenchError, match="preset='fast' is not one of: none, released"):
        _resolve(preset="fast")


def test_the_first_train_images_in_the_files_order(coco):
    from tasks.vl import features

    p = _resolve(preset="released", source=coco, n_train=3)
    raw = features.read(p)
    assert [c[0] for c in raw.train.captions] == [f"picture {uid} caption 0" for uid in range(3)]
    assert raw.about["splits"] == {"train": 3, "test": 3}  # n_test 0: the whole test split


def test_a_short_cell_runs_with_the_preset(coco, tmp_path):
    """The preset's recipe on a 5-image fixture: n_train=0 (every image) given explicitly, since the
    preset's 15,040 train images are refused on a split that has fewer."""
    short = {"steps": 2, "image_size": 32, "batch_size": 8, "pretrained": "none", "checkpoint_every": 0}
    p = _resolve(preset="released", source=coco, **short)
    with pytest.raises(BenchError, match=r"n_train=15,040 but its train split has 5 images; set "):
        sources.load(p)
    p = _resolve(preset="released", source=coco, n_train=0, **short)
    spec = RunSpec("gentle_clip", "vl", 0.5, 0, 0, registry.methods().get("gentle_clip").resolve({}), p)
    folder = Store(tmp_path / "results").create(spec, spec.run_id())
    assert execute(folder) == "done", folder.status().get("error")
    metrics = folder.metrics()
    assert 0 <= metrics["recall_mean"] <= 1 and "zs_top1" not in metrics
    assert folder.status()["data"]["eval_sets"]["test"]["size"] == 3
    assert torch.isfinite(torch.tensor(metrics["recall_mean"]))
