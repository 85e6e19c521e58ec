"""Display names: of metrics here; of methods, tasks and reference rows from the results.

A run records how the tables show its method and task (their `label`, collected into `method_label` and
`task_label`) and its task's reference rows (`Task.references`, collected into `task_references`);
`names(display, runs)` merges, from lowest to highest precedence, the metric names below, the labels of
the reference rows, methods and tasks of `runs`, and a caller's mapping (raw name → shown name). A name
missing from all shows as is.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bench.report.frame import labels

DEFAULT_NAMES = {
    **{
        f"{d}_r{k}": f"{a}→{b} R@{k}"
        for d, a, b in (("a2b", "A", "B"), ("b2a", "B", "A"))
        for k in (1, 5, 10)
    },
    **{
        f"one_{d}_r{k}": f"{a}→{b} R@{k} (one caption)"
        for d, a, b in (("a2b", "A", "B"), ("b2a", "B", "A"))
        for k in (1, 5, 10)
    },
    "one_recall_mean": "mean recall (one caption)",
    "a2b_map": "A→B MAP",
    "b2a_map": "B→A MAP",
    "align_mknn": "mutual kNN",
    "align_cka": "CKA",
    "align_cknna": "CKNNA",
    "zs_top1": "Zero-shot top-1",
    "zs_top5": "Zero-shot top-5",
    "zs_mpcr": "Zero-shot mean per-class recall",
}


def names(display: Mapping[str, str] | None = None, runs: pd.DataFrame | None = None) -> dict[str, str]:
    """The metric names, the labels of the reference rows, methods and tasks of prepared `runs`, then
    `display` over them."""
    return {**DEFAULT_NAMES, **(labels(runs) if runs is not None else {}), **(display or {})}
