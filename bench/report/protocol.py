"""The protocol of each table column: the one record (bench/protocols.py) that every run in it recorded for
its metric. A column never mixes protocols: runs of one task, pair ratio and metric measured differently
(another split, gallery size, caption protocol) are refused in one line that names what differs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bench.errors import BenchError
from bench.protocols import decode, describe


def column_protocols(done: pd.DataFrame, columns: Sequence) -> list[dict]:
    """Per column, the protocol record its done runs share ({} where none is recorded)."""
    out = []
    for col in columns:
        name = f"protocol_{col.metric}"
        sel = done[(done["task"] == col.task) & (done["pair_ratio"] == col.pair_ratio)]
        if name not in sel.columns or col.metric not in sel.columns:
            out.append({})
            continue
        texts = sorted(
            {t for t, v in zip(sel[name], sel[col.metric], strict=True) if isinstance(t, str) and pd.notna(v)}
        )
        if len(texts) > 1:
            shown = " | ".join(describe(decode(t)) for t in texts[:2])
            raise BenchError(
                f"{col.task} {col.metric}: the runs were measured under {len(texts)} protocols ({shown}); "
                "a column holds one: pick the runs with --where (e.g. --where splits=...)"
            )
        out.append(decode(texts[0]) if texts else {})
    return out


def legend(columns: Sequence, records: Sequence[dict], shown) -> list[str]:
    """One sentence per metric of the table: the protocol it was measured under, per task."""
    lines, seen = [], set()
    for col, record in zip(columns, records, strict=True):
        if record and (col.task, col.metric) not in seen:
            seen.add((col.task, col.metric))
            lines.append(
                f"{shown.get(col.task, col.task)}, {shown.get(col.metric, col.metric)}: {describe(record)}."
            )
    return lines
