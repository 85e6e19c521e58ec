"""The collected results table as the report reads it: checked, one row per run, metrics and references found.

A table cell is one experiment: runs are grouped only when everything but the seeds is the same, i.e. the
method, the task, the pair ratio, every method and task parameter (`p_method_*`, `p_task_*`) and the code
version. Where a (method, task, pair ratio) cell holds runs of several such configurations, each is a
*variant* of the method: its own table row, labelled by the parameters that tell the variants of that
method apart (`variant` column, e.g. "steps=10"; "" where the method has one configuration per cell). A
`setting` column (a study's "tuned" or "defaults", bench/study/plan.py) names a run's variant first, and
only the parameters that differ within one setting are added to it.
A run is identified by its run id (a hash of its spec and code version): the reruns of one run id collapse
to one. How the tables show its method and task comes with the run (`collect`'s entry columns: label,
order, the method's family and its ablation and control relations, the task's reference rows); a table
without them (made before they existed) shows the names themselves, in name order. Columns the report
does not know are ignored, except float columns without a known prefix, which count as metrics.

`select` is what the commands apply first: `--where key=value` and leaving out runs of an older code
version (`current` False) unless `--all-versions`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from bench.cell.states import DONE
from bench.errors import BenchError
from bench.suggest import closest

IDENTITY = ("method", "task", "pair_ratio", "split_seed", "seed")
REQUIRED = (*IDENTITY, "state")
COST = (
    "wall_s",
    "train_s",
    "eval_s",
    "fit_s",
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
    "task_references": None,  # JSON text: the task's reference rows, NAME → label (Task.references)
}
_NOT_METRICS = {
    *REQUIRED,
    "run_id",
    "primary_metric",
    "run_dir",
    *COST,
    *PROVENANCE,
    *ENTRY,
    "variant",
    "variant_key",
    "setting",
}


def prepare(df: pd.DataFrame, trials: bool = False) -> pd.DataFrame:
    """`df` checked for the required columns, with one row per run and its `variant` column.

    When a run id appears more than once (a rerun), the done row wins over others and, among equals,
    the latest `finished_at` (then the later row). A table without run ids keys a run on its identity,
    parameters and code version. Tuning trials (task parameter val_fraction > 0: trained on less data,
    with varying parameters) are left out unless `trials` (the end-of-sweep summary of a sweep that ran
    them). Raises BenchError when a required column is missing or no row is left."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BenchError(f"results table lacks the column(s) {', '.join(missing)}; was it made by `collect`?")
    df = df if trials else sweep_runs(df)
    if df.empty:
        raise BenchError("the results table has no runs (tuning trials, val_fraction > 0, are left out)")
    df = df.reset_index(drop=True)
    keys = pd.DataFrame({"is_done": df["state"].eq(DONE).to_numpy()}, index=df.index)
    if "finished_at" in df.columns:
        keys["finished"] = pd.to_datetime(df["finished_at"], errors="coerce", utc=True)
    order = keys.sort_values(list(keys.columns), kind="stable", na_position="first").index
    identity = df[list(IDENTITY)].astype(str).agg("\x1f".join, axis=1)
    fallback = identity + "\x1e" + _config_keys(df)
    if "run_id" in df.columns:  # the run id hashes the spec and code version; the identity guards it
        run_key = (identity + "\x1e" + df["run_id"].astype(str)).where(df["run_id"].notna(), fallback)
    else:
        run_key = fallback
    latest = run_key.loc[order].drop_duplicates(keep="last").index
    df = df.loc[latest].sort_index()
    return _with_entries(with_variants(df))


def sweep_runs(df: pd.DataFrame) -> pd.DataFrame:
    """`df` without tuning trials (task parameter val_fraction > 0)."""
    if "p_task_val_fraction" in df.columns:
        return df[~(pd.to_numeric(df["p_task_val_fraction"], errors="coerce") > 0)]
    return df


def config_columns(df: pd.DataFrame) -> list[str]:
    """The columns that make a configuration: every `p_method_*` and `p_task_*` column, and code_version."""
    params = sorted(c for c in df.columns if c.startswith(("p_method_", "p_task_")))
    return params + (["code_version"] if "code_version" in df.columns else [])


def canonical(value) -> str:
    """A value as a comparable string: "" for a missing one, JSON for lists and mappings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays (parquet reads lists as arrays)
        value = value.tolist()
    return json.dumps(value, sort_keys=True, default=str)


def _canonical_frame(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: df[c].map(canonical) for c in cols}, index=df.index)


def _config_keys(df: pd.DataFrame) -> pd.Series:
    cols = config_columns(df)
    if not cols:
        return pd.Series("", index=df.index)
    return _canonical_frame(df, cols).agg("\x1f".join, axis=1)


def with_variants(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with `variant` (the values, in words, of the configuration columns that differ among the runs
    of one (method, task, pair ratio) cell of the method, "" when none does) and `variant_key`, the sort
    key of the variants of a method."""
    df = df.copy()
    cols = config_columns(df)
    canon = _canonical_frame(df, cols)
    setting = (
        df["setting"].fillna("").astype(str) if "setting" in df.columns else pd.Series("", index=df.index)
    )
    df["variant"], df["variant_key"] = "", ""
    for _method, idx in df.groupby("method", sort=False).groups.items():
        sel = canon.loc[idx]
        cell = df.loc[idx, ["task", "pair_ratio"]].astype(str).agg("\x1f".join, axis=1)
        cell = cell + "\x1f" + setting.loc[idx]
        differ = [c for c in cols if (sel[c].groupby(cell).nunique(dropna=False) > 1).any()]
        if not differ:
            df.loc[idx, "variant"] = setting.loc[idx]
            df.loc[idx, "variant_key"] = setting.loc[idx].map(lambda s: json.dumps([s]) if s else "")
            continue
        bare = [_bare(c) for c in differ]
        words = [c if bare.count(b) > 1 else b for c, b in zip(differ, bare, strict=True)]
        for i in idx:
            parts = [setting.at[i]] if setting.at[i] else []
            for col, word in zip(differ, words, strict=True):
                value = df.at[i, col]
                if canonical(value) == "":
                    continue
                parts.append(f"code {str(value)[:7]}" if col == "code_version" else f"{word}={_shown(value)}")
            df.at[i, "variant"] = ", ".join(parts)
            df.at[i, "variant_key"] = json.dumps([setting.at[i], *(_sortable(df.at[i, c]) for c in differ)])
    return df


def _bare(col: str) -> str:
    return col.removeprefix("p_method_").removeprefix("p_task_")


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return canonical(value)


def _sortable(value) -> list:
    """A JSON-able sort key: numbers before text, missing values last."""
    if canonical(value) == "":
        return [2, 0, ""]
    if isinstance(value, bool):
        return [1, 0, str(value)]
    try:
        return [0, float(value), ""]
    except (TypeError, ValueError):
        return [1, 0, canonical(value)]


def variant_rows(runs: pd.DataFrame, methods: Sequence[str]) -> list[tuple[str, str]]:
    """The rows of `methods` in prepared `runs`: (method, variant) for each variant of each method with
    runs, methods in the given order, a method's variants by their parameter values; (method, "") for a
    method without runs."""
    out = []
    for m in methods:
        sel = runs.loc[runs["method"] == m, ["variant", "variant_key"]].drop_duplicates("variant")
        sel = sel.assign(order=sel["variant_key"].map(lambda k: json.loads(k) if k else []))
        ordered = sorted(zip(sel["order"], sel["variant"], strict=True))
        out += [(m, v) for _, v in ordered] or [(m, "")]
    return out


def row_label(label: str, variant: str) -> str:
    """How a row of a method with several variants is shown: "CLIP (steps=10)"."""
    return f"{label} ({variant})" if variant else label


def select(
    df: pd.DataFrame, where: Sequence[str] = (), all_versions: bool = False
) -> tuple[pd.DataFrame, int]:
    """The runs of `df` the commands tabulate, and how many runs of an older code version were left out.

    where: "key=value" conditions, all of which a run must meet; a key is a parameter name (`steps`, or
    `p_task_steps` where a method and a task parameter share the name) or `code_version` (a value may be
    a prefix of the version). Runs whose code version is not that of the sources now (`current` False)
    are left out unless `all_versions`, or `where` picks a code version. Tuning trials never count.
    Raises BenchError (one line) on a malformed condition, an unknown key or a value no run has."""
    df = sweep_runs(df)
    picked_version = False
    for condition in where:
        key, sep, value = str(condition).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise BenchError(f"--where {condition}: write key=value, e.g. --where steps=10")
        col = _where_column(df, key)
        picked_version |= col == "code_version"
        hit = df[col].map(lambda v, c=col, w=value: _matches(v, w, c))
        if not hit.any():
            present = sorted({_shown(v) for v in df[col] if canonical(v) != ""})
            raise BenchError(
                f"--where {key}={value}: no run has {key} = {value}; present: {', '.join(present) or 'none'}"
            )
        df = df[hit]
    old = 0
    if not all_versions and not picked_version and "current" in df.columns:
        current = df["current"].fillna(False).astype(bool)
        old = int((~current).sum())
        df = df[current]
        if df.empty:
            raise BenchError(
                f"every run left ({old}) is of an older code version than the sources now; "
                "pass --all-versions to include them"
            )
    return df, old


def _where_column(df: pd.DataFrame, key: str) -> str:
    if key == "code_version" or key.startswith(("p_method_", "p_task_")):
        if key in df.columns:
            return key
    else:
        found = [c for c in (f"p_method_{key}", f"p_task_{key}") if c in df.columns]
        if len(found) == 1:
            return found[0]
        if found:
            raise BenchError(f"--where {key}: both a method and a task parameter; write {' or '.join(found)}")
    known = sorted({_bare(c) for c in config_columns(df)})
    raise BenchError(
        f"--where {key}: no parameter {key!r} in the results{closest(key, known)}; known: "
        f"{', '.join(known) or 'none'}"
    )


def _matches(value, wanted: str, col: str) -> bool:
    if canonical(value) == "":
        return False
    if col == "code_version":
        return str(value).startswith(wanted)
    if canonical(value) == wanted or _shown(value) == wanted:
        return True
    if isinstance(value, bool) or wanted.lower() in ("true", "false"):
        return str(value).lower() == wanted.lower()
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return False


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
    """Name → label of every method and task of prepared runs, and of the reference rows their tasks
    declare (`task_references`, from each task's latest run)."""
    tasks = entries(runs, "task")
    references = {k: v for text in tasks["references"].dropna() for k, v in json.loads(text).items()}
    return {**references, **tasks["label"].to_dict(), **entries(runs, "method")["label"].to_dict()}


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns: float columns that are neither identity, entry, cost, provenance, `p_*`, `ref_*`
    nor `protocol_*`."""
    return [
        c
        for c in df.columns
        if c not in _NOT_METRICS
        and not c.startswith(("p_", "ref_", "protocol_"))
        and pd.api.types.is_float_dtype(df[c])
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
