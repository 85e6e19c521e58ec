"""`bench run` of every method on rs with the tiny open_clip model, frozen and fine-tuned, then collect."""

import pandas as pd
import pytest
import rs_files

from bench.cli.main import main
from tasks.rs import sources

ZS = ("rsicd_cls", "ucm_cls", "whu_rs19", "rsscn7", "aid")


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_every_method_runs_to_a_collected_table(tmp_path, results, mode):
    root = rs_files.build(tmp_path / "rs")
    params = {
        "source": f"local:{root}",
        "datasets": "rsicd,ucm,sydney",
        "encoder": "rs-tiny",
        "pretrained": "none",
        "mode": mode,
        "steps": "3",
        "batch_size": "8",
        "checkpoint_every": "0",
        "val_fraction": "0.25",
    }
    extra = [arg for k, v in params.items() for arg in ("--task-param", f"{k}={v}")]
    args = ["run", "--methods", "all", "--tasks", "rs", "--pair-ratio", "0.5", "--seeds", "0", "--jobs", "1"]
    assert main([*args, "--results", str(results), *extra]) == 0
    assert main(["collect", "--results", str(results)]) == 0
    table = pd.read_parquet(results / "results.parquet")
    assert len(table) >= 5 and set(table["state"]) == {"done"}
    assert {"clip", "s_clip", "gentle_clip"} <= set(table["method"])
    for d in ("rsicd", "ucm", "sydney"):
        for k in (1, 5, 10):
            assert table[f"{d}_a2b_r{k}"].between(0, 1).all() and f"{d}_b2a_r{k}" in table
    for z in ZS:
        assert table[f"{z}_top1"].between(0, 1).all() and f"{z}_mpcr" in table
    assert f"{ZS[0]}_top5" not in table  # 3 classes: no top-5
    assert table["zs_top1_mean"].notna().all() and table["ret_r1_mean"].notna().all()
    assert (table["primary_metric"] == "zs_top1_mean").all()
    assert table["val_a2b_r1"].between(0, 1).all() and table["val_ret_r1_mean"].notna().all()


def test_every_default_source_in_its_real_layout_runs_a_cell_through_hf_folders(tmp_path, results):
    """Each dataset parameter set to hf:/<its folder> (the layout of its default repository): one cell
    runs, scored on S-CLIP's splits, each evaluation set recorded with its split and size."""
    root = rs_files.build(tmp_path / "rs")
    params = {name: f"hf:{root / name}" for name in ("rsicd", "ucm", "sydney", *ZS)}
    params.update(
        datasets="rsicd,ucm,sydney", encoder="rs-tiny", pretrained="none", steps="2", batch_size="8"
    )
    params.update(checkpoint_every="0")
    extra = [arg for k, v in params.items() for arg in ("--task-param", f"{k}={v}")]
    args = ["run", "--methods", "clip", "--tasks", "rs", "--pair-ratio", "0.5", "--seeds", "0"]
    assert main([*args, "--results", str(results), *extra]) == 0
    assert main(["collect", "--results", str(results)]) == 0
    row = pd.read_parquet(results / "results.parquet").iloc[0]
    assert row["state"] == "done" and 0 <= row["zs_top1_mean"] <= 1
    expected = {
        "rsicd": ("val", rs_files.RSICD_SPLITS["valid"]),
        "ucm": ("val", rs_files.KARPATHY_SPLITS["val"]),
        "sydney": ("val", rs_files.KARPATHY_SPLITS["val"]),
        "rsicd_cls": ("val", rs_files.DANIEL_SPLITS["val"]),
    }
    for name, (split, size) in expected.items():
        assert (row[f"eval_{name}_split"], row[f"eval_{name}_size"]) == (split, size), name
        assert row[f"eval_{name}_source"] == f"hf:{root / name}" and row[f"eval_{name}_overlap"] == 0
    assert row["eval_ucm_cls_split"] == "all" and row["eval_ucm_cls_size"] == 3 * 4


def test_a_zero_shot_set_holding_train_images_is_refused_before_training(tmp_path, results, capsys):
    """ucm_cls given the train images of the Sydney caption set (a folder per class of them): one line,
    exit 2, no run folder."""
    root = rs_files.build(tmp_path / "rs")
    train = sources.captions("sydney", f"hf:{root / 'sydney'}", "train")
    for i, data in enumerate(train.images):
        folder = tmp_path / "leaky" / ("river" if i % 2 else "beach")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(data)
    params = {"rsicd": f"hf:{root / 'rsicd'}", "sydney": f"hf:{root / 'sydney'}", "datasets": "rsicd,sydney"}
    params.update(zero_shot="ucm_cls", ucm_cls=f"local:{tmp_path / 'leaky'}", encoder="rs-tiny")
    params.update(pretrained="none", steps="2", batch_size="8")
    extra = [arg for k, v in params.items() for arg in ("--task-param", f"{k}={v}")]
    args = ["run", "--methods", "clip", "--tasks", "rs", "--pair-ratio", "0.5", "--seeds", "0"]
    assert main([*args, "--results", str(results), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    n = len(train.images)
    assert err[-1] == (
        f"error: task rs: {n} of the {n} items of evaluation set ucm_cls are also in the train pool "
        "(same content); evaluate on another split, or set contamination=exclude to drop them from the "
        "evaluation (contamination=allow keeps them)"
    )
    assert not list(results.glob("runs/*"))
