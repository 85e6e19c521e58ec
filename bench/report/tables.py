"""The table model: methods as rows, (task, metric) × pair ratio or (task, pair ratio) × metric as columns.

Rules (they hold for every output format):
- A cell is one experiment: the done runs of (method, task, pair ratio) with the same method parameters,
  task parameters and code version (frame.py), one per (split_seed, seed), that report the metric; `n`
  is their number. A method with several such configurations in a cell has one row per variant, labelled
  by the parameters that differ ("CLIP (steps=10)"). The cell shows the mean ± the sample std (spread
  "std") or ± the half-width of the 95 % Student t confidence interval of the mean (spread "ci").
- `n_expected` of a column is the largest `n` of any method cell of its task in the table (tasks may run
  different numbers of seeds). A cell with fewer runs is incomplete: it is shown with its own n (†n) and
  takes no part in the ranking; a cell with none is missing (—).
- Best (rank 1, bold) and second best (rank 2, underline) are ranked per column among complete cells
  only, on the means as displayed (rounded), so that equal shown numbers share a rank; a column needs two
  complete cells to be ranked. All metrics are higher-is-better.
- Rows and tasks are listed by the `order` their runs record (then by name), and shown by their `label`.
- Each method other than the baseline (by default the method that declares itself the baseline,
  `method_baseline`, else the first by order: the plain method the others improve on) is tested
  against the baseline on the same column over the (split_seed, seed) pairs both have: a paired
  t-test, or the exact sign-flip permutation test where the differences have zero variance, and no test
  at all below 3 pairs (stats.py). Where the baseline has several variants, a row is tested against the
  baseline variant of the same parameters (none: no test). The p-values of the whole table are
  Holm-corrected together and a cell is marked significant when the corrected p < alpha; the legend
  says which tests were made, on how many pairs, and why a cell has none.
- Reference rows (`ref_NAME_<metric>` columns, no training) hold one value per split seed; they are
  neither ranked nor tested. Published rows (published.py: numbers papers report) are shown, in italics,
  where the column's task, metric, dataset, split and protocol are theirs; neither ranked nor tested.
- A column holds one protocol: the runs' recorded protocol of its metric (protocol.py); the legend says
  what it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.cell.states import DONE
from bench.errors import BenchError
from bench.report.frame import IDENTITY, in_order, prepare, reference_names, row_label, variant_rows
from bench.report.layout import Column, columns_for, pick
from bench.report.names import names
from bench.report.protocol import column_protocols
from bench.report.protocol import legend as protocol_legend
from bench.report.published import matching
from bench.report.stats import SIGN_FLIP, T_TEST, PairedTest, ci_half, holm, paired_test, summarize

SPREADS = ("std", "ci")


@dataclass(frozen=True)
class SeedSummary:
    """One table cell: the summary of its runs over seeds, in display units; n = 0 is a missing cell.

    rank: 1 best, 2 second, 0 unranked. p: Holm-adjusted p-value against the baseline (NaN: no test).
    delta: mean minus the reference method's mean (NaN when not asked for or not available).
    runs: the run folders the cell came from, in (split_seed, seed) order. ci: half-width of the 95 %
    Student t interval of the mean; `spread` is what the cell shows after ±: std or ci (kind)."""

    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    complete: bool = False
    rank: int = 0
    p: float = math.nan
    significant: bool = False
    delta: float = math.nan
    runs: tuple[str, ...] = ()
    ci: float = math.nan
    kind: str = "std"

    @property
    def spread(self) -> float:
        return self.ci if self.kind == "ci" else self.std


@dataclass(frozen=True)
class Row:
    """name: the method (or reference); variant: its parameters that tell it from its other rows."""

    name: str
    label: str
    cells: tuple[SeedSummary, ...]
    reference: bool = False
    variant: str = ""


@dataclass(frozen=True)
class Table:
    """A rendered-format-independent table; `notes` is the legend, one sentence each."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    n_expected: tuple[int, ...]  # per column: the full number of seeds of its task
    digits: int
    notes: tuple[str, ...]
    spread: str = "std"


def make_table(
    df: pd.DataFrame,
    metric: str | Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    columns: str = "ratio",
    display: Mapping[str, str] | None = None,
    *,
    ratios: Sequence[float] | None = None,
    baseline: str | None = None,
    percent: bool = True,
    digits: int = 1,
    alpha: float = 0.05,
    spread: str = "std",
    published: pd.DataFrame | None = None,
) -> Table:
    """The results table of the collected runs `df` (one row per run, as `collect` writes it).

    metric: one name or several; None means each task's `primary_metric` with columns="ratio" and every
    metric the task reports with columns="metric". columns: "ratio" groups columns by (task, metric) with
    one column per pair ratio; "metric" groups them by (task, pair ratio) with one column per metric.
    tasks, methods, ratios: restrict and order (default: all present, tasks and methods by their `order`
    in the results, then by name). baseline: the method the others are tested against (default: the one
    that declares itself the baseline, else the first by order, of those with runs in the chosen
    tasks). display: raw name → shown name for methods, tasks, metrics and references, over the
    labels in the results. percent: values × 100. spread: "std" or "ci" (95 % t interval of the mean).
    published: checked published rows (published.load), shown where they match a column."""
    if columns not in ("ratio", "metric"):
        raise BenchError(f"columns must be 'ratio' or 'metric', not {columns!r}")
    runs = prepare(df)
    shown = names(display, runs)
    tasks = pick(tasks, runs["task"], "task", lambda present: in_order(runs, "task", present))
    runs = runs[runs["task"].isin(tasks)]
    methods = pick(methods, runs["method"], "method", lambda present: in_order(runs, "method", present))
    if baseline is None:
        baseline = default_baseline(runs)
    cols = columns_for(runs, tasks, metric, ratios, columns, shown)
    asked = [metric] if isinstance(metric, str) else metric or []
    what = ", ".join(shown.get(m, m) for m in asked) or "primary metric"
    title = f"{what} by pair ratio" if columns == "ratio" else f"{'all metrics' if metric is None else what}"
    return build(
        runs,
        cols,
        methods,
        shown,
        title=title[0].upper() + title[1:] + (" (%)" if percent else ""),
        baseline=baseline,
        percent=percent,
        digits=digits,
        alpha=alpha,
        spread=spread,
        published=published,
    )


def default_baseline(runs: pd.DataFrame) -> str:
    """The method whose runs declare it the baseline (`method_baseline`), else the first by order."""
    ordered = in_order(runs, "method", runs["method"])
    declared = set(runs.loc[runs["method_baseline"].fillna(False).astype(bool), "method"])
    return next((m for m in ordered if m in declared), ordered[0])


def build(
    runs: pd.DataFrame,
    columns: Sequence[Column],
    methods: Sequence[str],
    shown: Mapping[str, str],
    *,
    title: str,
    baseline: str | None,
    delta_from: str | None = None,
    references: bool = True,
    percent: bool = True,
    digits: int = 1,
    alpha: float = 0.05,
    spread: str = "std",
    published: pd.DataFrame | None = None,
) -> Table:
    """The Table of `methods` (one row per variant) × `columns` from prepared runs (frame.prepare), by the
    rules of this module."""
    if spread not in SPREADS:
        raise BenchError(f"spread must be one of {', '.join(SPREADS)}, not {spread!r}")
    done = runs[runs["state"] == DONE]
    records = column_protocols(done, columns)
    scale = 100.0 if percent else 1.0
    by_cell = _by_cell(done, columns)
    rows_of = variant_rows(runs, [m for m in dict.fromkeys([*methods, baseline, delta_from]) if m])
    keys = [k for k in rows_of if k[0] in methods]
    grid = {k: [_seed_values(by_cell, k, c, scale) for c in columns] for k in rows_of}
    n_expected = _expected(grid, keys, columns)
    stats = {k: [summarize([v for v, _ in vals.values()]) for vals in grid[k]] for k in grid}
    base_of = {k: _counterpart(k, rows_of, baseline) for k in keys if baseline and k[0] != baseline}
    tests: dict[tuple, PairedTest] = {}
    for k, b in base_of.items():
        for j in range(len(columns)):
            if b is None:
                tests[(k, j)] = PairedTest(math.nan, 0, "", "no baseline variant of the same parameters")
            else:
                tests[(k, j)] = paired_test(_values(grid[k][j]), _values(grid[b][j]))
    order = list(tests)
    adjusted = dict(zip(order, holm([tests[t].p for t in order]), strict=True))
    ranks = [_ranks([stats[k][j] for k in keys], n_expected[j], digits) for j in range(len(columns))]
    rows = []
    for i, k in enumerate(keys):
        m, variant = k
        ref = _counterpart(k, rows_of, delta_from) if delta_from and m != delta_from else None
        cells = []
        for j, vals in enumerate(grid[k]):
            mean, std, n = stats[k][j]
            p = adjusted.get((k, j), math.nan)
            delta = mean - stats[ref][j][0] if ref else math.nan
            values = [v for v, _ in vals.values()]
            cells.append(
                SeedSummary(
                    mean,
                    std,
                    n,
                    complete=n == n_expected[j] and n > 0,
                    rank=ranks[j][i],
                    p=p,
                    significant=p < alpha,
                    delta=delta,
                    runs=tuple(d for _, d in vals.values()),
                    ci=ci_half(values),
                    kind=spread,
                )
            )
        rows.append(Row(m, row_label(shown.get(m, m), variant), tuple(cells), variant=variant))
    if references:
        rows += _reference_rows(done, columns, shown, scale, spread)
    legend = _legend(
        runs, columns, methods, rows, n_expected, shown, baseline, delta_from, tests, alpha, spread
    )
    sources = _published_rows(published, columns, records, scale, rows) if published is not None else []
    legend += protocol_legend(columns, records, shown) + sources
    return Table(title, tuple(columns), tuple(rows), n_expected, digits, tuple(legend), spread)


def _published_rows(published, columns, records, scale, rows: list) -> list[str]:
    """Append to `rows` one italic row per published method with a number in some column; the legend lines
    that give each its source."""
    found: dict[str, dict[int, tuple[float, str]]] = {}
    for j, (col, record) in enumerate(zip(columns, records, strict=True)):
        for r in matching(published, col.task, col.metric, record).to_dict("records"):
            found.setdefault(r["method"], {})[j] = (r["fraction"] * scale, r["source"])
    notes = []
    for method, cells in found.items():
        row = [
            SeedSummary(cells[j][0], math.nan, 1, complete=True) if j in cells else SeedSummary()
            for j in range(len(columns))
        ]
        rows.append(Row(method, f"{method} (published)", tuple(row), reference=True))
        where = "; ".join(sorted({s for _, s in cells.values()}))
        notes.append(
            f"{method} (published): as reported, same task, split and protocol; not ranked or tested. "
            f"Source: {where}."
        )
    return notes


def _expected(grid: dict, keys: Sequence[tuple[str, str]], columns: Sequence[Column]) -> tuple[int, ...]:
    """Per column, the largest number of seeds of any method cell of the column's task."""
    of_task: dict[str, int] = {}
    for j, col in enumerate(columns):
        n = max((len(grid[k][j]) for k in keys), default=0)
        of_task[col.task] = max(of_task.get(col.task, 0), n)
    return tuple(of_task[col.task] for col in columns)


def _has_variants(rows: Sequence[Row], method: str | None) -> bool:
    return sum(r.name == method for r in rows) > 1


def _counterpart(row: tuple[str, str], rows_of: Sequence[tuple[str, str]], method: str | None):
    """The row of `method` that `row` is compared with: its only row, else the one of the same variant
    (None when there is no such row)."""
    if method is None:
        return None
    of = [k for k in rows_of if k[0] == method]
    if len(of) == 1:
        return of[0]
    return next((k for k in of if k[1] == row[1]), None)


def _by_cell(done: pd.DataFrame, columns: Sequence[Column]) -> dict:
    """(method, variant, task, pair_ratio) → its done runs in (split_seed, seed) order, with only the columns
    the cells read (the table's metrics and run_dir): one pass over the runs instead of one per cell."""
    metrics = sorted({c.metric for c in columns if c.metric in done.columns})
    dirs = done["run_dir"].fillna("").astype(str) if "run_dir" in done.columns else ""
    narrow = done[[*IDENTITY, "variant", *metrics]].assign(run_dir=dirs).sort_values(["split_seed", "seed"])
    return dict(iter(narrow.groupby(["method", "variant", "task", "pair_ratio"], sort=False)))


def _seed_values(by_cell: dict, row: tuple[str, str], col: Column, scale: float) -> dict:
    """(split_seed, seed) → (value × scale, run_dir) of the done runs of `row` (method, variant) in `col`
    with a value."""
    sel = by_cell.get((*row, col.task, col.pair_ratio))
    if sel is None or col.metric not in sel.columns:
        return {}
    sel = sel[sel[col.metric].notna()]
    return {
        (s, t): (float(v) * scale, d)
        for s, t, v, d in zip(sel["split_seed"], sel["seed"], sel[col.metric], sel["run_dir"], strict=True)
    }


def _values(seed_values: dict) -> dict:
    return {k: v for k, (v, _) in seed_values.items()}


def _ranks(stats: list[tuple[float, float, int]], n_expected: int, digits: int) -> list[int]:
    shown = [round(mean, digits) if n == n_expected and n > 0 else None for mean, _, n in stats]
    levels = sorted({s for s in shown if s is not None}, reverse=True)
    if sum(s is not None for s in shown) < 2:
        return [0] * len(stats)
    return [levels.index(s) + 1 if s is not None and levels.index(s) < 2 else 0 for s in shown]


def _reference_rows(done, columns, shown, scale, spread="std") -> list[Row]:
    refs = sorted({r for c in columns for r in reference_names(done, c.metric)})
    rows = []
    for ref in refs:
        cells = []
        for c in columns:
            col = f"ref_{ref}_{c.metric}"
            sel = done[(done["task"] == c.task) & (done["pair_ratio"] == c.pair_ratio)]
            per_split = (
                sel[["split_seed", col]].dropna().groupby("split_seed")[col].first() if col in sel else []
            )
            values = [v * scale for v in per_split]
            mean, std, n = summarize(values)
            cells.append(SeedSummary(mean, std, n, complete=n > 0, ci=ci_half(values), kind=spread))
        rows.append(Row(ref, shown.get(ref, ref), tuple(cells), reference=True))
    return rows


def _legend(
    runs, columns, methods, rows, n_expected, shown, baseline, delta_from, tests, alpha, spread
) -> list[str]:
    method_cells = [c for r in rows if not r.reference for c in r.cells]
    if spread == "ci":
        what = (
            "Mean ± half-width of the 95 % confidence interval of the mean over seeds (Student t, n − 1 df)"
        )
    else:
        what = "Mean ± sample std over seeds"
    full = dict(zip((c.task for c in columns), n_expected, strict=True))
    uniform = len(set(full.values())) <= 1
    if uniform:
        out = [f"{what}; a full cell has {max(full.values(), default=0)} seed(s)."]
    else:
        each = ", ".join(f"{n} on {shown.get(t, t)}" for t, n in full.items())
        out = [f"{what}; a full cell has the seeds of its task: {each}."]
    if any(r.variant for r in rows):
        out.append(
            "A method run with several parameter sets (or code versions) in one cell has a row per "
            "variant, labelled by what differs."
        )
    out.append("Bold: best, underlined: second best per column, among full cells only.")
    made = [t for t in tests.values() if not math.isnan(t.p)]
    name = shown.get(baseline, baseline) if baseline else ""
    if made:
        ns = sorted({t.n for t in made})
        n_text = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
        kinds = [k for k in (T_TEST, SIGN_FLIP) if any(t.test == k for t in made)]
        how = "two-sided " + " or ".join(kinds)
        if SIGN_FLIP in kinds:
            how += " (the permutation test where the differences have zero variance)"
        out.append(
            f"*: differs from {name} on the same column ({how} over {n_text} (split seed, seed) pairs, "
            f"Holm-corrected over the {len(made)} test(s) of this table, p < {alpha:g})."
        )
        if _has_variants(rows, baseline):
            out.append(
                f"A row with a variant in brackets is tested against the {name} row of the same variant."
            )
    reasons: dict[str, int] = {}
    for t in tests.values():
        if math.isnan(t.p):
            reasons[t.reason] = reasons.get(t.reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        scope = "any cell" if not made else f"{count} cell(s)"
        out.append(f"No test against {name} in {scope} (no mark): {reason}.")
    if delta_from:
        same = ", its row of the same variant" if _has_variants(rows, delta_from) else ""
        out.append(f"(±x): change from {shown.get(delta_from, delta_from)} in the same units{same}.")
    if any(c.n > 0 and not c.complete for c in method_cells):
        seeds = f"{max(full.values())}" if uniform else "the task's"
        out.append(f"†k: only k of {seeds} seeds finished; not ranked.")
    if any(c.n == 0 for c in method_cells):
        out.append("—: no finished run.")
    if any(r.reference for r in rows):
        out.append("Italic rows: reference values without training (one per split seed).")
    keys = {(c.task, c.pair_ratio) for c in columns}
    in_cols = np.array([k in keys for k in zip(runs["task"], runs["pair_ratio"], strict=True)], dtype=bool)
    scope = runs[runs["method"].isin(methods) & in_cols]
    pending = scope.loc[scope["state"] != DONE, "state"].value_counts()
    if len(pending):
        out.append("Runs not finished: " + ", ".join(f"{n} {s}" for s, n in sorted(pending.items())) + ".")
    return out
