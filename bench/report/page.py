"""One self-contained HTML report: tables, figures (inline PNG), provenance, links from each cell to its runs.

The page loads nothing from elsewhere. Links to run folders are relative to the page, so the page and the
results folder can move together; a relative `run_dir` is taken relative to `results_dir`.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from bench import atomic
from bench.errors import BenchError
from bench.report.ablation import ablated, ablation_table
from bench.report.frame import PROVENANCE, in_order, prepare
from bench.report.html import html_document, html_table
from bench.report.names import names
from bench.report.plots import plot
from bench.report.tables import make_table

_RUN_COLUMNS = ("method", "task", "pair_ratio", "split_seed", "seed", "state", "wall_s", "device", "host")


def write_report(
    df: pd.DataFrame,
    out: str | Path,
    results_dir: str | Path | None = None,
    *,
    metric: str | None = None,
    display: Mapping[str, str] | None = None,
    title: str = "gentle-bench results",
    intro: str = "",
) -> Path:
    """Write the report of the collected runs `df` to `out` (an .html file) and return its path.

    Sections: the main table (metric by pair ratio), the ablation table of each method with ablations in
    the results, the figures, every metric per (task, pair ratio), the list of runs and the provenance. A
    section that has nothing to show says why. `intro`: HTML placed under the title (a study's summary)."""
    out = Path(out)
    runs = prepare(df)
    link = _linker(out, Path(results_dir) if results_dir is not None else None)
    states = ", ".join(f"{n} {s}" for s, n in runs["state"].value_counts().sort_index().items())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    full = ablated(runs) or [None]  # None: the ablation table's own error says why there is none
    body = [
        f"<h1>{escape(title)}</h1>",
        intro,
        f"<p>{len(runs)} runs ({escape(states)}); generated {now}. Each cell's small numbers link to the "
        "run folders it came from.</p>",
        "<h2>Main table</h2>",
        _section(lambda: html_table(make_table(runs, metric, display=display), link)),
        "<h2>Ablation</h2>",
        *(
            _section(lambda f=f: html_table(ablation_table(runs, metric, display=display, full=f), link))
            for f in full
        ),
        "<h2>Figures</h2>",
        _section(lambda: _figure(runs, "ratio", metric, display)),
        *(_section(lambda f=f: _figure(runs, "ablation", metric, display, f)) for f in full),
        _section(lambda: _figure(runs, "cost", metric, display)),
        "<h2>All metrics</h2>",
        *_all_metrics(runs, display, link),
        "<h2>Runs</h2>",
        _run_list(runs, link),
        "<h2>Provenance</h2>",
        _provenance(runs),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, html_document(title, "\n".join(body)))
    return out


def _linker(out: Path, results_dir: Path | None) -> Callable[[str], str]:
    base = out.parent.resolve()

    def link(run_dir: str) -> str:
        path = Path(run_dir)
        if not path.is_absolute():
            path = (results_dir or Path.cwd()) / path
        return quote(Path(os.path.relpath(path.resolve(), base)).as_posix()) + "/"

    return link


def _section(make: Callable[[], str]) -> str:
    try:
        return make()
    except BenchError as e:
        return f'<p class="notes">Not shown: {escape(str(e))}</p>'


def _figure(runs: pd.DataFrame, kind: str, metric: str | None, display, full: str | None = None) -> str:
    buf = io.BytesIO()
    methods = [full] if full else None
    plot(runs, kind, metric=metric, display=display, methods=methods).savefig(buf, format="png", dpi=110)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="figure" alt="{kind} figure" src="data:image/png;base64,{data}">'


def _all_metrics(runs: pd.DataFrame, display, link) -> list[str]:
    out, shown = [], names(display, runs)
    ratios = runs.groupby("task")["pair_ratio"].unique()
    for task, ratio in ((t, r) for t in in_order(runs, "task", runs["task"]) for r in sorted(ratios[t])):
        table = _section(
            lambda t=task, r=ratio: html_table(
                make_table(runs, tasks=[t], columns="metric", display=display, ratios=[r]), link
            )
        )
        summary = f"{shown.get(task, task)}, r = {ratio:g}"
        out.append(f"<details><summary>{escape(summary)}</summary>\n{table}\n</details>")
    return out


def _run_list(runs: pd.DataFrame, link) -> str:
    cols = [c for c in _RUN_COLUMNS if c in runs.columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in ["run", *cols])
    rows = []
    for _, r in runs.sort_values(["task", "method", "pair_ratio", "split_seed", "seed"]).iterrows():
        name, folder = escape(str(r.get("run_id", ""))), r.get("run_dir")
        run = f'<a href="{escape(link(folder))}">{name}</a>' if isinstance(folder, str) and folder else name
        cells = "".join(f"<td>{escape('' if pd.isna(r[c]) else str(r[c]))}</td>" for c in cols)
        rows.append(f"<tr><td>{run}</td>{cells}</tr>")
    table = f'<table class="plain"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f"<details><summary>{len(runs)} runs</summary>\n{table}\n</details>"


def _provenance(runs: pd.DataFrame) -> str:
    rows = []
    for col in (*PROVENANCE[:5], "device"):
        if col in runs.columns:
            counts = runs[col].fillna("unknown").astype(str).value_counts().sort_index()
            text = "; ".join(f"{v} ({n} runs)" for v, n in counts.items())
            rows.append(f"<tr><th>{escape(col)}</th><td>{escape(text)}</td></tr>")
    for col, label, first in (("started_at", "first start", True), ("finished_at", "last finish", False)):
        if col in runs.columns and runs[col].notna().any():
            values = sorted(runs[col].dropna().astype(str))
            rows.append(f"<tr><th>{label}</th><td>{escape(values[0] if first else values[-1])}</td></tr>")
    if not rows:
        return '<p class="notes">Not shown: the results table has no provenance columns.</p>'
    return f'<table class="plain"><tbody>{"".join(rows)}</tbody></table>'
