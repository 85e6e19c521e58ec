"""The rs task's contamination guard (an evaluation image that is a train image, by decoded pixels),
its record of what was evaluated, its split rules and its deterministic random-weight features."""

import io
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from bench.cell.spec import ROOT
from bench.errors import BenchError
from tasks.rs import RemoteSensing, data, features

SMALL = {"encoder": "rs-tiny", "pretrained": "none", "n_views": 2, "n_captions": 2, "eval_batch": 64}


def picture(seed: int, fmt: str = "PNG") -> bytes:
    """A 24 px picture whose pixels follow `seed`, encoded as `fmt`."""
    pixels = bytes((seed * 37 + i * 11) % 256 for i in range(24 * 24 * 3))
    buf = io.BytesIO()
    Image.frombytes("RGB", (24, 24), pixels).save(buf, format=fmt)
    return buf.getvalue()


def caption_rows(images: list[bytes]) -> list[dict]:
    return [
        {
            "filename": f"{i}.png",
            "captions": [f"a river seen from above {i} {j}" for j in range(5)],
            "image": {"bytes": b, "path": None},
        }
        for i, b in enumerate(images)
    ]


def local_root(tmp_path, shared: bool):
    """local:ROOT with rsicd (train / val parquets, the flat local layout) and aid (class folders);
    with `shared`, the first val image is the first train image's pixels re-encoded as BMP."""
    root = tmp_path / "rs"
    (root / "rsicd").mkdir(parents=True)
    train = [picture(i) for i in range(6)]
    val = [picture(0, "BMP") if shared else picture(50), picture(51)]
    for split, images in (("train", train), ("val", val)):
        pq.write_table(pa.Table.from_pylist(caption_rows(images)), root / "rsicd" / f"{split}.parquet")
    for c, name in enumerate(("river", "forest")):
        (root / "aid" / name).mkdir(parents=True)
        for i in range(2):
            (root / "aid" / name / f"{i}.png").write_bytes(picture(100 + 10 * c + i))
    return root


def task(root, **extra):
    return RemoteSensing(source=f"local:{root}", datasets="rsicd", zero_shot="aid", **SMALL, **extra)


def test_an_evaluation_image_that_is_a_train_image_is_refused_excluded_or_allowed_and_counted(tmp_path):
    root = local_root(tmp_path, shared=True)
    with pytest.raises(BenchError) as err:
        data.read(task(root).p)
    assert str(err.value) == (
        "task rs: 1 of the 2 items of evaluation set rsicd are also in the train pool (same content); "
        "evaluate on another split, or set contamination=exclude to drop them from the evaluation "
        "(contamination=allow keeps them)"
    )
    excluded = data.read(task(root, contamination="exclude").p)
    assert len(excluded.tests["rsicd"].images) == 1 and excluded.tests["rsicd"].images[0] == picture(51)
    assert excluded.about["eval_sets"]["rsicd"] == {
        "source": f"local:{root / 'rsicd'}",
        "split": "val",
        "size": 1,
        "overlap": 1,
        "excluded": 1,
    }
    allowed = data.read(task(root, contamination="allow").p)
    assert len(allowed.tests["rsicd"].images) == 2
    assert allowed.about["eval_sets"]["rsicd"]["overlap"] == 1
    assert allowed.about["eval_sets"]["rsicd"]["excluded"] == 0
    assert allowed.about["eval_sets"]["aid"] == {
        "source": f"local:{root / 'aid'}",
        "split": "all",
        "size": 4,
        "overlap": 0,
        "excluded": 0,
    }


def test_a_run_records_its_evaluation_sets_and_metric_units_and_collect_has_them(tmp_path):
    root = local_root(tmp_path, shared=True)
    results = tmp_path / "results"
    params = {
        **SMALL,
        "source": f"local:{root}",
        "datasets": "rsicd",
        "zero_shot": "aid",
        "contamination": "exclude",
        "steps": 2,
        "batch_size": 4,
        "checkpoint_every": 0,
    }
    cmd = [sys.executable, "-m", "bench", "run", "--methods", "clip", "--tasks", "rs", "--pair-ratio", "0.5"]
    cmd += ["--seeds", "0", "--results", str(results)]
    cmd += [a for k, v in params.items() for a in ("--task-param", f"{k}={v}")]
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (status,) = results.glob("runs/*/status.json")
    recorded = json.loads(status.read_text())
    assert recorded["data"]["eval_sets"]["rsicd"]["excluded"] == 1
    units = recorded["metric_units"]
    assert set(units.values()) == {"fraction"} and "zs_top1_mean" in units
    from bench.cell.collect import collect
    from bench.cell.store import Store

    table = collect(Store(results))
    assert table.loc[0, "eval_rsicd_size"] == 1 and table.loc[0, "eval_rsicd_overlap"] == 1
    assert table.loc[0, "eval_aid_split"] == "all" and table.loc[0, "metric_unit"] == "fraction"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"zero_shot": "none"}, "zero_shot=none leaves the task without its primary metric zs_top1_mean"),
        ({"splits": "rsicd"}, "splits: 'rsicd' must be name=split"),
        ({"splits": "nosuch=val"}, "splits: 'nosuch=val' must be name=split"),
        ({"splits": "rsicd=all"}, "splits: rsicd='all': the split must be one of train, val, test"),
        ({"contamination": "ignore"}, "contamination"),
    ],
)
def test_split_and_primary_metric_rules_are_checked_before_anything_runs(params, message):
    with pytest.raises(BenchError, match=message):
        RemoteSensing(source="synthetic:8", **params)


def test_the_split_rule_is_s_clips_unless_overridden():
    chosen = data.splits(RemoteSensing(source="synthetic:8", splits="rsicd=test, aid=test").p)
    assert chosen["rsicd"] == "test" and chosen["aid"] == "test"
    assert chosen["sydney"] == "val" and chosen["rsicd_cls"] == "val" and chosen["ucm_cls"] == "all"


def test_two_cold_builds_of_random_weight_features_are_identical(tmp_path, monkeypatch):
    p = RemoteSensing(source="synthetic:8", **SMALL).p
    built = []
    for k in range(2):
        monkeypatch.setenv("BENCH_CACHE", str(tmp_path / f"cache{k}"))
        torch.manual_seed(1000 + k)  # whatever the global generator holds
        built.append(features.frozen(p))
    assert built[0].keys() == built[1].keys()
    for key, value in built[0].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, built[1][key]), key
