"""Published reference rows: numbers that papers and their repositories report, shown in italics beside
the runs of the same task, split and protocol, never ranked or tested (docs/tasks.md, "Published rows").

The file (default results/reference/published.csv, versioned with the code) has one row per number:
method, task, dataset, split, protocol, metric, value, unit (percent or fraction), source (where the
number is printed: repository, file and table, or paper and table). `load` refuses, in one line naming
the file and the row, a row with a missing field, an unknown protocol, a metric that protocol does not
have (bench/protocols.py METRICS, bare or after "<dataset>_"), a value that is not a number of its unit,
or a duplicate of an earlier row. A row is shown in a column when the column's task and metric are its
own and the runs' recorded protocol (`protocol_<metric>`) names its protocol, dataset (`set`) and split.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.protocols import METRICS, PROTOCOLS

DEFAULT = Path(__file__).resolve().parents[2] / "results" / "reference" / "published.csv"
FIELDS = ("method", "task", "dataset", "split", "protocol", "metric", "value", "unit", "source")
UNITS = {"percent": 100.0, "fraction": 1.0}
KEY = ("method", "task", "dataset", "split", "protocol", "metric")


def load(path: Path | str = DEFAULT) -> pd.DataFrame:
    """The checked rows of `path`, values as fractions (column `fraction`)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise BenchError(f"published rows {path}: cannot read it as CSV ({err})") from None
    missing = [f for f in FIELDS if f not in df.columns]
    if missing:
        raise BenchError(
            f"published rows {path}: no column(s) {', '.join(missing)}; it needs {', '.join(FIELDS)}"
        )
    seen: dict[tuple, int] = {}
    fractions = []
    for i, r in enumerate(df.to_dict("records"), start=2):  # row 1 is the header
        where = f"published rows {path}, row {i}"
        fractions.append(_fraction(r, where))
        key = tuple(r[f].strip() for f in KEY)
        if key in seen:
            raise BenchError(f"{where}: duplicates row {seen[key]} ({', '.join(key)}); keep one")
        seen[key] = i
    return df.assign(fraction=fractions)


def _fraction(r: dict, where: str) -> float:
    empty = [f for f in FIELDS if not str(r[f]).strip()]
    if empty:
        raise BenchError(f"{where}: empty {', '.join(empty)}; every row needs {', '.join(FIELDS)}")
    protocol, metric, dataset = r["protocol"].strip(), r["metric"].strip(), r["dataset"].strip()
    if protocol not in PROTOCOLS:
        raise BenchError(f"{where}: unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    names = METRICS[protocol]
    if not any(metric in (m, f"{dataset}_{m}") for m in names):
        raise BenchError(
            f"{where}: protocol {protocol} has no metric {metric!r}; its metrics: "
            f"{', '.join(names) or 'none'} (bare or after '{dataset}_')"
        )
    unit = r["unit"].strip()
    if unit not in UNITS:
        raise BenchError(f"{where}: unit {unit!r}; one of {', '.join(UNITS)}")
    try:
        value = float(r["value"])
    except ValueError:
        value = math.nan
    if not 0 <= value <= UNITS[unit]:
        raise BenchError(f"{where}: value {r['value']!r} is not a number in [0, {UNITS[unit]:g}] ({unit})")
    return value / UNITS[unit]


def matching(published: pd.DataFrame, task: str, metric: str, record: dict) -> pd.DataFrame:
    """The published rows for a column of `task` and `metric` whose runs were measured under `record`."""
    if not record:
        return published.iloc[:0]
    sel = published[
        (published["task"] == task)
        & (published["metric"] == metric)
        & (published["protocol"] == record.get("protocol"))
        & (published["split"] == str(record.get("split")))
        & (published["dataset"] == str(record.get("set")))
    ]
    return sel
