"""The summary printed at the end of a sweep (bench/cell/summary.py): one row per method and configuration,
named and ordered as `table` names and orders them."""

import pandas as pd

from bench.cell.summary import summary_table
from bench.cli.main import main

from conftest import fast_args


def runs(method: str, values: list[float], **params) -> list[dict]:
    base = {
        "state": "done",
        "task": "synthetic",
        "primary_metric": "a2b_r1",
        "pair_ratio": 0.1,
        "split_seed": 0,
    }
    return [
        {
            **base,
            "method": method,
            "seed": seed,
            "a2b_r1": v,
            **{f"p_method_{k}": p for k, p in params.items()},
        }
        for seed, v in enumerate(values)
    ]


def test_runs_of_one_method_with_different_parameters_are_kept_apart():
    """A study's tuned and default runs of one method (or any two configurations) are two rows, never one
    cell of four seeds; a method with one configuration keeps its plain name."""
    df = pd.DataFrame(
        runs("clip", [0.10, 0.12], temperature=0.07)
        + runs("gentle_clip", [0.20, 0.22], w_sdd=0.7)
        + runs("gentle_clip", [0.40, 0.44], w_sdd=0.05)
    )
    lines = summary_table(df).splitlines()
    rows = {line.split("  ")[0].strip(): line for line in lines[2:]}
    assert set(rows) == {"method", "clip", "gentle_clip (w_sdd=0.05)", "gentle_clip (w_sdd=0.7)"}
    assert "21.0 ± 1.4 (2)" in rows["gentle_clip (w_sdd=0.7)"]
    assert "42.0 ± 2.8 (2)" in rows["gentle_clip (w_sdd=0.05)"]
    assert "11.0 ± 1.4 (2)" in rows["clip"]


def test_labels_order_study_settings_and_no_spread_for_one_run():
    """The tables' labels and order, a study's setting as the variant (not its tuned parameters), and one
    run's cell without a spread."""
    tuned = runs("gentle_clip", [0.30], temperature=0.0634129, w_sdd=0.4172)
    defaults = runs("gentle_clip", [0.20, 0.22], temperature=0.07, w_sdd=0.7)
    for r, setting in [(r, "tuned") for r in tuned] + [(r, "defaults") for r in defaults]:
        r.update(setting=setting, method_label="Gentle-CLIP", method_order=2)
    clip = [{**r, "method_label": "CLIP", "method_order": 1} for r in runs("clip", [0.1, 0.12])]
    lines = summary_table(pd.DataFrame(clip + tuned + defaults)).splitlines()
    rows = [line.split("  ")[0].strip() for line in lines[3:]]
    assert rows == ["CLIP", "Gentle-CLIP (defaults)", "Gentle-CLIP (tuned)"]
    assert lines[-1].endswith(" 30.0 (1)") and "±" not in lines[-1]
    assert "21.0 ± 1.4 (2)" in lines[-2]


def test_the_summary_and_table_name_and_order_rows_and_columns_alike(results, capsys):
    """A small results folder: clip, hard_pl, gentle_clip and its ablation gentle_clip_no_sdd (listed by
    their order, which is not their names' alphabetical order: hard_pl comes before gentle_clip), then a
    second gentle_clip configuration (w_sdd=0.1), which makes gentle_clip two variant rows. The summary a
    sweep prints, the summary of the collected folder and `table`'s Markdown have the same rows in the
    same order, and the same column heads."""
    fast = fast_args(steps="5", checkpoint_every="0", n_train="100", n_test="50", width="16")
    first = ["--methods", "clip,hard_pl,gentle_clip,gentle_clip_no_sdd", "--seeds", "0"]
    assert main(["run", *first, "--tasks", "synthetic", "--results", str(results), *fast]) == 0
    printed = capsys.readouterr().out.splitlines()
    plain = ["CLIP", "Hard PL", "Gentle-CLIP", "Gentle-CLIP (no SDD)"]
    assert [line.split("  ")[0] for line in printed[3:7]] == plain
    assert printed[1].split("  ")[-1].strip() == "Synthetic (A→B R@1), r = 0.1"
    second = ["--methods", "gentle_clip", "--method-param", "gentle_clip.w_sdd=0.1", "--seeds", "0"]
    assert main(["run", *second, "--tasks", "synthetic", "--results", str(results), *fast]) == 0
    assert main(["collect", "--results", str(results)]) == 0
    capsys.readouterr()
    summary = summary_table(pd.read_parquet(results / "results.parquet")).splitlines()
    assert main(["table", "--results", str(results)]) == 0
    md = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    table_rows = [line.split(" | ")[0].removeprefix("| ").strip("*").replace("\\_", "_") for line in md[1:]]
    table_rows = [r for r in table_rows if not r.startswith(":--")]
    summary_rows = [line.split("  ")[0] for line in summary[3:]]
    varied = ["CLIP", "Hard PL", "Gentle-CLIP (w_sdd=0.1)", "Gentle-CLIP (w_sdd=0.7)", "Gentle-CLIP (no SDD)"]
    assert summary_rows == table_rows == varied
    assert md[0].split(" | ")[1:] == [summary[1].split("  ")[-1].strip() + " |"]
