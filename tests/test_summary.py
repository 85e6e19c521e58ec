"""The summary printed at the end of a sweep (bench/summary.py): one row per method and configuration."""

import pandas as pd

from bench.summary import summary_table


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
    assert set(rows) == {"method", "clip", "gentle_clip [w_sdd=0.05]", "gentle_clip [w_sdd=0.7]"}
    assert "21.0 ± 1.4 (2)" in rows["gentle_clip [w_sdd=0.7]"]
    assert "42.0 ± 2.8 (2)" in rows["gentle_clip [w_sdd=0.05]"]
    assert "11.0 ± 1.4 (2)" in rows["clip"]
