"""The summary printed at the end of a sweep (bench/cell/summary.py): one row per method and configuration."""

import pandas as pd

from bench.cell.summary import summary_table


def runs(method: str, values: list[float], **params) -> list[dict]:
    base = {"state": "done", "task": "synthetic", "primary_metric": "a2b_r1", "pair_ratio": 0.1}
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
