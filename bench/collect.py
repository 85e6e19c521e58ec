"""Collect run folders into one long pandas table, one row per run.

Columns: identity (run_id, method, task, pair_ratio, split_seed, seed, state, primary_metric,
run_dir), parameters (`p_method_<k>`, `p_task_<k>`), metrics (one column each), cost (wall_s,
data_s, train_s, eval_s, peak_mem_mb, samples_per_s, n_params, n_trainable, device, gpu_hours,
threads) and provenance (git_commit, code_version, python_version, host, torch_version,
started_at, finished_at, current: whether the run was made by the code as it is now).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench import atomic, registry
from bench.errors import BenchError
from bench.spec import code_version
from bench.store import RunFolder, Store


def primary_metric(task: str) -> str:
    try:
        return registry.tasks().get(task).cls.primary_metric
    except BenchError:
        return ""


def row(folder: RunFolder) -> dict:
    spec, status = folder.spec(), folder.status()
    prov = status.get("provenance", {})
    out = {
        "run_id": folder.run_id,
        "method": spec.method,
        "task": spec.task,
        "pair_ratio": spec.pair_ratio,
        "split_seed": spec.split_seed,
        "seed": spec.seed,
        "state": folder.state(),
        "primary_metric": primary_metric(spec.task),
        "run_dir": str(folder.path),
    }
    out.update({f"p_method_{k}": v for k, v in spec.method_params.items()})
    out.update({f"p_task_{k}": v for k, v in spec.task_params.items()})
    out.update(folder.metrics())
    out.update(status.get("cost", {}))
    out.update({k: prov.get(k) for k in ("git_commit", "code_version", "python_version", "host")})
    out["torch_version"] = prov.get("packages", {}).get("torch")
    out["started_at"], out["finished_at"] = status.get("started_at"), status.get("finished_at")
    out["current"] = prov.get("code_version", code_version()) == code_version()
    return out


def collect(store: Store) -> pd.DataFrame:
    """The table of every run folder under the store (empty with no runs)."""
    rows = [row(f) for f in store.all_folders()]
    return pd.DataFrame(rows)


def write_table(df: pd.DataFrame, root: Path) -> tuple[Path, Path]:
    """results.parquet and results.csv in `root`, each written atomically."""
    parquet, csv = Path(root) / "results.parquet", Path(root) / "results.csv"
    atomic.write_with(parquet, lambda tmp: df.to_parquet(tmp, index=False))
    atomic.write_with(csv, lambda tmp: df.to_csv(tmp, index=False))
    return parquet, csv
