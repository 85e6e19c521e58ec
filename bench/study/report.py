"""A study's report: the Markdown page `<results>/studies/NAME/report.md`, beside it the LaTeX tables as a
document that compiles (tables.tex), `report`'s HTML page of the study's runs with the study's summary on
top (report.html), the figures (figures/*.png) and the file as run (study.yaml).

Only the study's own cells are shown (a results folder may hold other runs); each run's `setting` (tuned,
defaults) names its row. A cell that failed is listed with its error and log, and the tables mark the
seeds it lacks (†k); nothing is averaged over fewer runs silently. The report is written again only when
the study's cells or tuning changed since it was last written (report.json holds that fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from html import escape
from pathlib import Path

import pandas as pd

from bench import atomic
from bench.cell.states import DONE
from bench.errors import BenchError
from bench.study.file import Study, report_dir
from bench.study.plan import StudyCell

FILES = ("report.md", "tables.tex", "report.html", "study.yaml")


def study_runs(cells: list[StudyCell], results: Path) -> pd.DataFrame:
    """The collected rows of the study's cells that have a run folder, with their `setting`."""
    from bench.cell.collect import row
    from bench.cell.store import Store

    store = Store(results)
    rows = []
    for cell in cells:
        folder = store.folder(cell.spec.run_id())
        if folder.file("spec.json").is_file():
            rows.append({**row(folder), "setting": cell.setting})
    return pd.DataFrame(rows)


def fingerprint(study: Study, runs: pd.DataFrame, summary: list[tuple[str, list[str]]]) -> str:
    keys = sorted(
        map(str, zip(runs["run_id"], runs["state"], runs.get("finished_at", runs["state"]), strict=True))
    )
    blob = json.dumps([study.text, keys, summary])
    return hashlib.sha256(blob.encode()).hexdigest()


def write_report(
    study: Study, cells: list[StudyCell], results: Path, summary: list[tuple[str, list[str]]]
) -> Path | None:
    """Write the report; its folder, or None when it was up to date (or no cell has run yet)."""
    runs = study_runs(cells, results)
    out = report_dir(results, study)
    if runs.empty:
        return None
    summary = [*summary, ("Cells not done", failed(runs)), ("Time", timing(runs))]
    stamp = fingerprint(study, runs, summary)
    record = out / "report.json"
    if atomic.read_json(record, default={}).get("fingerprint") == stamp and all(
        (out / f).is_file() for f in FILES
    ):
        return None
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "study.yaml", study.text)
    tables, notes = make_tables(study, runs)
    figures = make_figures(study, runs, out / "figures", notes)
    atomic.write_text(out / "report.md", markdown(study, summary, tables, figures, notes))
    atomic.write_text(out / "tables.tex", latex_document(tables))
    from bench.report import write_report as html_page

    intro = "\n".join(f"<h2>{escape(t)}</h2>\n{html_list(items)}" for t, items in summary)
    if study.description:
        intro = f"<p>{escape(study.description)}</p>\n{intro}"
    html_page(
        runs,
        out / "report.html",
        results,
        metric=study.report.metric,
        title=f"Study {study.name}",
        intro=intro,
    )
    atomic.write_json(record, {"fingerprint": stamp, "runs": len(runs)})
    return out


def make_tables(study: Study, runs: pd.DataFrame) -> tuple[list, list[str]]:
    """The tables the file asks for: one by pair ratio per task, and the ablation table; a table that cannot
    be made is a note saying why."""
    from bench.report import ablation_table, make_table

    setting, tables, notes = study.report, [], []
    makers = []
    if "ratio" in setting.tables:
        tasks = list(dict.fromkeys(runs["task"]))
        makers += [
            lambda t=t: make_table(runs, setting.metric, tasks=[t], spread=setting.spread) for t in tasks
        ]
    if "ablation" in setting.tables:
        makers.append(lambda: ablation_table(runs, setting.metric, spread=setting.spread))
    for make in makers:
        try:
            tables.append(make())
        except BenchError as err:
            notes.append(f"Table not made: {err}")
    return tables, notes


def make_figures(study: Study, runs: pd.DataFrame, folder: Path, notes: list[str]) -> list[str]:
    from bench.report import plot

    made = []
    for kind in study.report.plots:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            plot(runs, kind, folder / f"{kind}.png", study.report.metric)
            made.append(f"figures/{kind}.png")
        except BenchError as err:
            notes.append(f"Figure {kind} not made: {err}")
    return made


def failed(runs: pd.DataFrame) -> list[str]:
    """One line per cell that is not done: its state and, for a failure, the reason and the log."""
    from bench.cell.status import cell_status
    from bench.cell.store import RunFolder

    lines = []
    for _, r in runs[runs["state"] != DONE].sort_values(["task", "method", "pair_ratio", "seed"]).iterrows():
        folder = RunFolder(Path(r["run_dir"]))
        status = cell_status(folder, None)
        why = f": {status.reason} (log: {status.log})" if status.reason else ""
        lines.append(f"{status.state}: {folder.spec().label()} ({r['setting'] or 'as given'}){why}")
    return lines or ["none: every cell of the study is done"]


def timing(runs: pd.DataFrame) -> list[str]:
    """Summed run time of the done cells per task, and per task and method."""
    if "wall_s" not in runs.columns:
        return ["no cell has finished"]
    done = runs[runs["state"] == DONE]
    lines = [
        f"{t}: {len(g)} cells, {g['wall_s'].sum():.0f} s of runs in all" for t, g in done.groupby("task")
    ]
    for (t, m), g in done.groupby(["task", "method"]):
        lines.append(f"{t} · {m}: {len(g)} cells, {g['wall_s'].sum():.1f} s")
    return lines


def markdown(study: Study, summary, tables: list, figures: list[str], notes: list[str]) -> str:
    from bench.report.render import markdown as md_table
    from bench.report.render import md_escape as md_text

    out = [f"# Study {study.name}", ""]
    if study.description:
        out += [study.description, ""]
    for title, items in summary:
        out += [f"## {title}", "", *(f"- {md_text(i)}" for i in items), ""]
    out += ["## Tables", ""]
    out += [md_table(t) for t in tables]
    out += [f"- {md_text(n)}" for n in notes]
    out += ["", "## Figures", ""]
    out += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(out) + "\n"


def html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def latex_document(tables: list) -> str:
    from bench.report.latex import PREAMBLE, latex

    body = "\n".join(latex(t) for t in tables) or "No table was made; see report.md.\n"
    return PREAMBLE + body + "\\end{document}\n"
