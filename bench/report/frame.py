"""The collected results table as the report reads it: checked, one row per run, metrics and references found.

A run is identified by (method, task, pair_ratio, split_seed, seed). How the tables show its method and
task comes with the run (`collect`'s entry columns: label, order, the method's family and its ablation and
control relations); a table without them (made before they existed) shows the names themselves, in name
order. Columns the report does not know are ignored, except float columns without a known prefix, which
count as metrics.
"""

from __future__ import annotations

import pandas as pd

from bench.errors import BenchError

IDENTITY = ("method", "task", "pair_ratio", "split_seed", "seed")
REQUIRED = (*IDENTITY, "state")
COST = (
    "wall_s",
    "train_s",
    "eval_s",
    "data_s",
    "peak_mem_mb",
    "samples_per_s",
    "n_params",
    "n_trainable",
    "device",
    "gpu_hours",
    "steps",
    "threads",
)
PROVENANCE = (
    "git_commit",
    "code_version",
    "torch_version",
    "python_version",
    "host",
    "started_at",
    "finished_at",
    "current",
)
# How the tables show a run's method and task, and the default of each for a table without the column.
UNSET_ORDER = 1000.0
ENTRY = {
    "method_label": None,  # None: the name itself
    "method_order": UNSET_ORDER,
    "method_family": None,
    "method_ablation_of": None,
    "method_control_of": None,
    "method_baseline": None,  # True for the method the others are tested against
    "task_label": None,
    "task_order": UNSET_ORDER,
}
_NOT_METRICS = {*REQUIRED, "run_id", "primary_metric", "run_dir", *COST, *PROVENANCE, *ENTRY}


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """`df` checked for the required columns, with one row per run identity.

    When a run appears more than once (a rerun), the done row wins over others and, among equals,
    the latest `finished_at` (then the later row). Tuning trials (task parameter val_fraction > 0:
    trained on less data, with varying parameters) are left out. Raises BenchError when a required
    column is missing or no row is left."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BenchError(f"results table lacks the column(s) {', '.join(missing)}; was it made by `collect`?")
    if "p_task_val_fraction" in df.columns:
        df = df[~(df["p_task_val_fraction"] > 0)]
    if df.empty:
        raise BenchError("the results table has no runs (tuning trials, val_fraction > 0, are left out)")
    df = df.reset_index(drop=True)
    keys = pd.DataFrame({"done": df["state"].eq("done").to_numpy()}, index=df.index)
    if "finished_at" in df.columns:
        keys["finished"] = pd.to_datetime(df["finished_at"], errors="coerce", utc=True)
    order = keys.sort_values(list(keys.columns), kind="stable", na_position="first").index
    return _with_entries(df.loc[order].drop_duplicates(list(IDENTITY), keep="last").sort_index())


def _with_entries(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every entry column: orders as floats, labels and families defaulting to the name, the
    relations None where a run has none."""
    df = df.copy()
    for col, default in ENTRY.items():
        values = df[col] if col in df.columns else pd.Series(None, index=df.index, dtype=object)
        if col.endswith("_order"):
            df[col] = pd.to_numeric(values, errors="coerce").fillna(default).astype(float)
            continue
        given = values.notna() & (values.astype(str) != "")
        if col.endswith(("_label", "_family")):
            name = df["task" if col.startswith("task") else "method"]
            df[col] = values.where(given, name).astype(str)
        else:
            df[col] = values.astype(object).where(given, None)
    return df


def entries(runs: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One row per method (kind "method") or task of prepared runs, indexed by name: its entry columns
    without the prefix (label, order, ...), from its latest run; sorted by (order, name)."""
    cols = [c for c in ENTRY if c.startswith(f"{kind}_")]
    latest = runs[[kind, *cols]]
    if "finished_at" in runs.columns:
        when = pd.to_datetime(runs["finished_at"], errors="coerce", utc=True)
        latest = latest.loc[when.sort_values(kind="stable", na_position="first").index]
    table = latest.groupby(kind, sort=False)[cols].last()
    table.columns = [c.removeprefix(f"{kind}_") for c in cols]
    table = table.assign(name=table.index.astype(str))
    return table.sort_values(["order", "name"], kind="stable").drop(columns="name")


def in_order(runs: pd.DataFrame, kind: str, present) -> list[str]:
    """The names of `present` (methods or tasks of `runs`) by their entries' (order, name)."""
    wanted = set(present)
    return [n for n in entries(runs, kind).index if n in wanted]


def labels(runs: pd.DataFrame) -> dict[str, str]:
    """Name → label of every method and task of prepared runs."""
    return {**entries(runs, "task")["label"].to_dict(), **entries(runs, "method")["label"].to_dict()}


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns: float columns that are neither identity, entry, cost, provenance, `p_*` nor
    `ref_*`."""
    return [
        c
        for c in df.columns
        if c not in _NOT_METRICS and not c.startswith(("p_", "ref_")) and pd.api.types.is_float_dtype(df[c])
    ]


def reference_names(df: pd.DataFrame, metric: str) -> list[str]:
    """Names of the reference rows that report `metric`: NAME for each column `ref_NAME_<metric>`."""
    suffix = f"_{metric}"
    return sorted(c[4 : -len(suffix)] for c in df.columns if c.startswith("ref_") and c.endswith(suffix))


def primary_metric(runs: pd.DataFrame, task: str) -> str:
    """The `primary_metric` the runs of `task` report (the most frequent one)."""
    values = runs.loc[runs["task"] == task, "primary_metric"] if "primary_metric" in runs.columns else None
    if values is None or values.dropna().empty:
        raise BenchError(f"task {task!r} names no primary_metric in the results; pass a metric")
    return str(values.dropna().mode().iloc[0])
