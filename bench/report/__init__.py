"""Paper tables, figures and the HTML report, built on the collected results table (one row per run).

Public API (df is the DataFrame that `collect` writes; `display` maps raw names of methods, tasks,
metrics and reference rows to shown names, over the labels the runs record and the metric names of
names.py):

- make_table(df, metric=None, tasks=None, methods=None, columns="ratio", display=None, *, ratios=None,
  baseline=None, percent=True, digits=1, alpha=0.05) -> Table
- ablation_table(df, metric=None, tasks=None, ratios=None, display=None, *, full=None, percent=True,
  digits=1, alpha=0.05) -> Table
- render(table, fmt, *, standalone=False, links=None) -> str, fmt in md | latex | csv | html
- plot(df, kind="ratio", out=None, metric=None, *, tasks=None, methods=None, display=None, cost=None)
  -> matplotlib Figure, kind in ratio | ablation | cost
- write_report(df, out, results_dir=None, *, metric=None, display=None) -> Path

metric=None means each task's `primary_metric`. Nothing here knows a method or a task: their labels,
order and ablation relations are columns of df (frame.py), so a new method file needs no change here.
Mistakes raise bench.errors.BenchError. The rules of a table (seeds, incomplete and missing cells,
ranking, the significance test) are in tables.py and stats.py.
matplotlib and seaborn are imported only when a figure is drawn; import this package lazily from the CLI.
"""

from bench.report.ablation import ablation_table
from bench.report.page import write_report
from bench.report.plots import plot
from bench.report.render import FORMATS, render
from bench.report.tables import Column, Row, SeedSummary, Table, make_table

__all__ = [
    "FORMATS",
    "Column",
    "Row",
    "SeedSummary",
    "Table",
    "ablation_table",
    "make_table",
    "plot",
    "render",
    "write_report",
]
