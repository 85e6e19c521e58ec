"""The summary printed at the end of a sweep: the primary metric in percent (the unit of `table`), mean ±
std over seeds (n), named and ordered as `table` names and orders them, because it is built from the same
parts: the runs prepared by bench/report/frame.py (`prepare`: reruns collapsed, variants found over the
runs of every state), rows by `variant_rows` of the methods `in_order` (their recorded order, then name),
shown as `row_label` writes them (the method's label, then its variant in brackets: a study's `tuned` and
`defaults`, or the parameters that differ), columns by bench/report/layout.py `columns_for` (tasks in
order, by label, with the metric's display name, one column per pair ratio). Unlike `table` it keeps a
sweep's tuning trials (val_fraction > 0: what this sweep ran). One run has no spread: its cell is
'value (1)'; a row without a done run in a column shows '—'."""

from __future__ import annotations

import pandas as pd

from bench.cell.states import DONE
from bench.report.frame import in_order, prepare, row_label, variant_rows
from bench.report.layout import columns_for
from bench.report.names import names

UNIT = "%"
DIGITS = 1  # as `table` shows them


def summary_table(df: pd.DataFrame) -> str:
    """A title line naming the unit, then one row per method and variant (as `table`'s rows), columns
    (task (metric), r = pair ratio) as `table`'s; cells 'mean ± std (n)' in percent over done runs
    ('mean (1)' for one)."""
    if not (df["state"] == DONE).any():
        return "(no finished runs)"
    runs = prepare(df, trials=True)
    shown = names(None, runs)
    recorded = runs.dropna(subset=["primary_metric"])
    recorded = recorded[recorded["primary_metric"].astype(str) != ""]
    tasks = in_order(runs, "task", recorded.loc[recorded["state"] == DONE, "task"])
    columns = columns_for(recorded, tasks, None, None, "ratio", shown)
    done = runs[runs["state"] == DONE]
    rows = variant_rows(runs, in_order(runs, "method", runs["method"]))
    cells = {row: {} for row in rows}
    for col in columns:
        if col.metric not in done.columns:  # no run of the task recorded it: nothing to show
            continue
        sel = done[(done["task"] == col.task) & (done["pair_ratio"] == col.pair_ratio)]
        for (method, variant), part in sel.groupby(["method", "variant"]):
            values = part[col.metric].dropna().astype(float) * 100
            if values.empty:
                continue
            spread = f" ± {values.std(ddof=1):.{DIGITS}f}" if len(values) > 1 else ""
            cells[(method, variant)][col] = f"{values.mean():.{DIGITS}f}{spread} ({len(values)})"
    headers = [f"{col.group}, {col.label}" for col in columns]  # as the Markdown table heads them
    table = pd.DataFrame(
        [[cells[row].get(col, "—") for col in columns] for row in rows],
        index=[row_label(shown.get(m, m), v) for m, v in rows],
        columns=headers,
    )
    table.index.name = "method"
    title = (
        f"primary metric in {UNIT}, mean ± std over seeds (n runs; one run: no ±), as `python -m bench "
        "table` shows it"
    )
    return title + "\n" + table.to_string()
