"""`bench run` of every method on rs with the tiny open_clip model, frozen and fine-tuned, then collect."""

import pandas as pd
import pytest
import rs_files

from bench.cli import main

ZS = ("rsicd_cls", "ucm_cls", "whu_rs19", "rsscn7", "aid")


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_every_method_runs_to_a_collected_table(tmp_path, results, mode):
    root = rs_files.build(tmp_path / "rs")
    params = {
        "source": f"local:{root}",
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
