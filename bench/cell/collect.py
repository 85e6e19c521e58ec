"""Collect run folders into one long pandas table, one row per run.

Columns: identity (run_id, method, task, pair_ratio, split_seed, seed, state, primary_metric,
run_dir), how the tables show the entries (method_label, method_order, method_family,
method_ablation_of, method_control_of, method_baseline, task_label, task_order, task_references: the
task's reference rows, NAME → label as JSON text: from the run's about.json, so no registry is
needed), parameters (`p_method_<k>`, `p_task_<k>`), metrics (one column each), cost (wall_s, data_s,
train_s, eval_s, peak_mem_mb, samples_per_s, n_params, n_trainable, device, gpu_hours, threads) and
provenance (git_commit, code_version, python_version, host, torch_version,
started_at, finished_at, current: whether the cell's sources are as they are now, by
bench/cell/codeversion.py), what it was evaluated on (`eval_<set>_source`, `_split`, `_size`, `_overlap`,
`_excluded`), `metric_unit` (`fraction`: the tables show percent), for each metric, `protocol_<metric>`:
how it was measured (bench/protocols.py; JSON: protocol, set, split, queries, gallery, ...; a `val_` metric
has its test metric's protocol on the validation split), and `fit_features` (a method that fits: the
features it was given, "A: name · B: name"; None otherwise). Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench import atomic, protocols
from bench.cell.codeversion import cell_version
from bench.cell.store import RunFolder, Store, or_empty


def entries(about: dict, method: str, task: str) -> dict:
    """The method's and the task's display columns (their names alone for runs without about.json)."""
    m, t = about.get("method", {}), about.get("task", {})
    return {
        "method_label": m.get("label", method),
        "method_order": m.get("order", 1000.0),
        "method_family": m.get("family", method),
        "method_ablation_of": m.get("ablation_of"),
        "method_control_of": m.get("control_of"),
        "method_baseline": bool(m.get("baseline")),
        "task_label": t.get("label", task),
        "task_order": t.get("order", 1000.0),
        "task_references": json.dumps(t["references"], sort_keys=True) if t.get("references") else None,
    }


def is_current(about: dict) -> bool:
    """Whether the run's recorded code version is that of its sources now."""
    m, t = about.get("method", {}), about.get("task", {})
    if not ("module" in m and "module" in t and "code_version" in about):
        return False
    return about["code_version"] == cell_version(m["module"], t["module"])


def row(folder: RunFolder) -> dict:
    """The run's columns; its spec.json must be readable. An unreadable status.json leaves the run pending,
    with no cost, provenance or metrics; an unreadable metrics.json or about.json leaves their columns out."""
    spec, status, about = folder.spec(), or_empty(folder.status), or_empty(folder.about)
    prov = status.get("provenance", {})
    out = {
        "run_id": folder.run_id,
        "method": spec.method,
        "task": spec.task,
        "pair_ratio": spec.pair_ratio,
        "split_seed": spec.split_seed,
        "seed": spec.seed,
        "state": folder.state(),
        "primary_metric": about.get("task", {}).get("primary_metric", ""),
        "run_dir": str(folder.path),
        **entries(about, spec.method, spec.task),
    }
    out.update({f"p_method_{k}": v for k, v in spec.method_params.items()})
    out.update({f"p_task_{k}": v for k, v in spec.task_params.items()})
    metrics = or_empty(folder.metrics) if status else {}
    out.update(metrics)
    out.update(status.get("cost", {}))
    out.update({k: prov.get(k) for k in ("git_commit", "python_version", "host")})
    out["code_version"] = about.get("code_version", prov.get("code_version"))
    out["torch_version"] = prov.get("packages", {}).get("torch")
    out["started_at"], out["finished_at"] = status.get("started_at"), status.get("finished_at")
    out["current"] = is_current(about)
    out.update(eval_set_columns(status.get("data", {})))
    out.update(protocol_columns(status.get("data", {}), metrics))
    units = set(status.get("metric_units", {}).values())
    out["metric_unit"] = units.pop() if len(units) == 1 else ",".join(sorted(units)) or None
    fit = status.get("fit_features")
    out["fit_features"] = " · ".join(f"{side.upper()}: {name}" for side, name in fit.items()) if fit else None
    return out


def eval_set_columns(data: dict) -> dict:
    """`eval_<set>_<field>` for each evaluation set a run recorded (source, split, size, overlap,
    excluded)."""
    return {
        f"eval_{name}_{field}": value
        for name, fields in data.get("eval_sets", {}).items()
        for field, value in fields.items()
    }


VAL_SPLIT = {"split": "val (train-pool items held out)"}


def protocol_columns(data: dict, metrics: dict) -> dict:
    """`protocol_<metric>` for each metric of the run with a recorded protocol; `val_<m>` takes m's, on the
    validation split (its own queries and gallery)."""
    recorded = data.get("protocols", {})
    out = {}
    for metric in metrics:
        record = recorded.get(metric)
        if record is None and metric.startswith("val_") and metric[4:] in recorded:
            test = recorded[metric[4:]]
            record = {k: v for k, v in test.items() if k not in ("queries", "gallery", "rows")} | VAL_SPLIT
        if record is not None:
            out[f"protocol_{metric}"] = protocols.encode(record)
    return out


def collect(store: Store) -> pd.DataFrame:
    """The table of every run folder under the store (empty with no runs); the files that cannot be read
    are reported on stderr, and a run whose spec.json cannot be read is left out (Store.readable_folders)."""
    folders = store.readable_folders()
    rows = [row(f) for f in folders]
    borrow_entries(rows, [bool(or_empty(f.about)) for f in folders])
    return pd.DataFrame(rows)


METHOD_ENTRIES = ("method_label", "method_order", "method_family", "method_ablation_of", "method_control_of")
METHOD_ENTRIES += ("method_baseline",)
TASK_ENTRIES = ("task_label", "task_order", "primary_metric")


def borrow_entries(rows: list[dict], known: list[bool]) -> None:
    """The rows of runs with no readable about.json (`known` False) take the display columns of a run of
    the same method, and of the same task, that has one: one damaged file leaves the tables as they were."""
    method = {r["method"]: r for r, k in zip(rows, known, strict=True) if k}
    task = {r["task"]: r for r, k in zip(rows, known, strict=True) if k}
    for r, k in zip(rows, known, strict=True):
        if not k and r["method"] in method:
            r.update({c: method[r["method"]][c] for c in METHOD_ENTRIES})
        if not k and r["task"] in task:
            r.update({c: task[r["task"]][c] for c in TASK_ENTRIES})


def write_table(df: pd.DataFrame, root: Path) -> tuple[Path, Path]:
    """results.parquet and results.csv in `root`, each written atomically."""
    parquet, csv = Path(root) / "results.parquet", Path(root) / "results.csv"
    atomic.write_with(parquet, lambda tmp: df.to_parquet(tmp, index=False))
    atomic.write_with(csv, lambda tmp: df.to_csv(tmp, index=False))
    return parquet, csv
