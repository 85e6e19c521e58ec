"""The results table, its Markdown/LaTeX/CSV/HTML output and the ablation table, on hand-chosen numbers.

The methods are made up (none is in the registry): what a table shows of them, their label, order and
ablation relations, comes with their runs as `collect`'s entry columns. Base (order 10), Hard (30),
Rival (50) and Ours (60) on task `toy` (label Toy, primary metric a2b_r1), pair ratios 0.01 and 0.1,
seeds 0-2 of split seed 0:

  r = 0.01: Base 10/11/12 → 11.0 ± 1.0; Ours 20/22/24 → 22.0 ± 2.0; Rival 12/10/14 → 12.0 ± 2.0;
            Hard 30/32 and a failed seed → 31.0 ± 1.4 †2 (highest, but incomplete, so not ranked)
  r = 0.1:  Base 30/31/32 → 31.0 ± 1.0; Ours 35/37/36 → 36.0 ± 1.0; Rival 33/32/37 → 34.0 ± 2.6;
            Hard: failed, running, pending → —

Paired t-tests against Base, the first by order (raw p): Ours 0.0027 and 0.0131, Hard 0.0155 (2 pairs),
Rival 0.42 and 0.12. Holm over these 5 tests: 0.0137, 0.0523, 0.0523, 0.243, 0.42, so only Ours at
r = 0.01 is marked; without the correction Ours at r = 0.1 and Hard would be too.
"""

import math
import shutil
import subprocess

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import ablation_table, make_table, render

VALUES = {
    ("base", 0.01): [0.10, 0.11, 0.12],
    ("ours", 0.01): [0.20, 0.22, 0.24],
    ("rival", 0.01): [0.12, 0.10, 0.14],
    ("hard", 0.01): [0.30, 0.32, "failed"],
    ("base", 0.1): [0.30, 0.31, 0.32],
    ("ours", 0.1): [0.35, 0.37, 0.36],
    ("rival", 0.1): [0.33, 0.32, 0.37],
    ("hard", 0.1): ["failed", "running", "pending"],
}

# method → (label, order, ablation_of, control_of), as about.json records them and collect reads them
ENTRIES = {
    "base": ("Base", 10.0, None, None),
    "hard": ("Hard", 30.0, None, None),
    "rival": ("Rival", 50.0, None, None),
    "ours": ("Ours", 60.0, None, None),
    "ours_no_a": ("Ours (no A)", 60.01, "ours", None),
    "ours_no_b": ("Ours (no B)", 60.02, "ours", None),
    "ours_no_c": ("Ours (no C)", 60.03, "ours", None),
    "ctl": ("Control", 20.0, None, "ours"),
}
TASKS = {"toy": ("Toy", 10.0), "other": ("Other task", 5.0)}


def entry(method, task):
    """The entry columns of a run, as collect writes them."""
    label, order, ablation_of, control_of = ENTRIES[method]
    return {
        "method_label": label,
        "method_order": order,
        "method_family": method.split("_no_")[0],
        "method_ablation_of": ablation_of,
        "method_control_of": control_of,
        "task_label": TASKS[task][0],
        "task_order": TASKS[task][1],
    }


def run(method, ratio, seed, value, task="toy", **extra):
    done = not isinstance(value, str)
    return {
        "run_id": f"{method}-{ratio}-{seed}",
        "method": method,
        "task": task,
        "pair_ratio": ratio,
        "split_seed": 0,
        "seed": seed,
        "state": "done" if done else value,
        "primary_metric": "a2b_r1",
        "run_dir": f"runs/{method}-{ratio}-{seed}",
        "a2b_r1": value if done else math.nan,
        "zs_top1": 0.5 if done else math.nan,
        "ref_nn_a2b_r1": 0.05 if done else math.nan,
        "p_method_w_sdd": 0.7,
        "finished_at": "2025-01-02T00:00:00",
        "some_unknown_text": "x",
        **(entry(method, task) if method in ENTRIES else {}),
        **extra,
    }


@pytest.fixture
def results():
    rows = [run(m, r, s, v) for (m, r), vals in VALUES.items() for s, v in enumerate(vals)]
    # an earlier duplicate of a Base run, with a wrong value: the later one must win
    rows.append(run("base", 0.01, 0, 0.90, finished_at="2025-01-01T00:00:00"))
    # a done run that does not report a metric counts as a missing seed for that metric only
    next(r for r in rows if r["run_id"] == "base-0.01-2")["zs_top1"] = math.nan
    return pd.DataFrame(rows)


def test_markdown_numbers_marks_and_ranks(results):
    md = render(make_table(results), "md")
    lines = md.splitlines()
    assert lines[0] == "**Primary metric by pair ratio (%)**"
    assert lines[2:9] == [
        "| Method | Toy (A→B R@1), r = 0.01 | Toy (A→B R@1), r = 0.1 |",
        "| :-- | --: | --: |",
        "| Base | 11.0 ± 1.0 | 31.0 ± 1.0 |",
        "| Hard | 31.0 ± 1.4 †2 | — |",
        "| Rival | <u>12.0 ± 2.0</u> | <u>34.0 ± 2.6</u> |",
        "| Ours | **22.0 ± 2.0**\\* | **36.0 ± 1.0** |",
        "| *Nearest neighbour (no training)* | 5.0 | 5.0 |",
    ]
    assert "†k: only k of 3 seeds finished; not ranked." in lines
    assert "—: no finished run." in lines
    assert "Runs not finished: 2 failed, 1 pending, 1 running." in lines
    assert any("differs from Base" in line and "Holm-corrected over the 5 test(s)" in line for line in lines)


def test_table_model_keeps_n_p_and_run_folders(results):
    table = make_table(results)
    ours = next(r for r in table.rows if r.name == "ours")
    hard = next(r for r in table.rows if r.name == "hard")
    assert table.n_expected == 3
    assert ours.cells[0].p == pytest.approx(5 * 0.0027435, abs=1e-5)
    assert ours.cells[1].p == pytest.approx(4 * 0.0130725, abs=1e-5) and not ours.cells[1].significant
    assert (hard.cells[0].n, hard.cells[0].complete, hard.cells[0].rank) == (2, False, 0)
    assert hard.cells[1].n == 0 and hard.cells[1].runs == ()
    assert ours.cells[0].runs == tuple(f"runs/ours-0.01-{s}" for s in range(3))


def test_holm_family_is_the_table(results):
    md = render(make_table(results, methods=["base", "ours"]), "md")
    assert "| Ours | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |" in md.splitlines()


def test_baseline_is_the_first_method_by_order_shown_or_not(results):
    md = render(make_table(results, methods=["ours", "rival"]), "md").splitlines()
    assert md[4:6] == [
        "| Ours | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |",
        "| Rival | <u>12.0 ± 2.0</u> | <u>34.0 ± 2.6</u> |",
    ]
    assert any("differs from Base" in line and "over the 4 test(s)" in line for line in md)
    against_ours = {r.name: r.cells for r in make_table(results, baseline="ours").rows}
    assert all(math.isnan(c.p) for c in against_ours["ours"])
    assert all(not math.isnan(c.p) for c in against_ours["base"])


def test_a_declared_baseline_wins_over_the_order(results):
    """The method whose runs say `method_baseline` is tested against, wherever it is listed."""
    declared = results.assign(method_baseline=results["method"].eq("rival"))
    md = render(make_table(declared), "md").splitlines()
    assert any("differs from Rival" in line for line in md)
    rows = {r.name: r.cells for r in make_table(declared).rows}
    assert all(math.isnan(c.p) for c in rows["rival"])
    assert not all(math.isnan(c.p) for c in rows["base"])


def test_latex_booktabs_and_marks(results):
    tex = render(make_table(results), "latex")
    lines = tex.splitlines()
    for expected in [
        "\\toprule",
        " & \\multicolumn{2}{c}{Toy (A$\\rightarrow$B R@1)} \\\\",
        "\\cmidrule(lr){2-3}",
        "Method & r = 0.01 & r = 0.1 \\\\",
        "Base & 11.0 $\\pm$ 1.0 & 31.0 $\\pm$ 1.0 \\\\",
        "Hard & 31.0 $\\pm$ 1.4$^{\\dagger 2}$ & -- \\\\",
        "Rival & \\underline{12.0 $\\pm$ 2.0} & \\underline{34.0 $\\pm$ 2.6} \\\\",
        "Ours & \\textbf{22.0 $\\pm$ 2.0}$^{*}$ & \\textbf{36.0 $\\pm$ 1.0} \\\\",
        "\\textit{Nearest neighbour (no training)} & 5.0 & 5.0 \\\\",
        "\\bottomrule",
    ]:
        assert expected in lines, expected
    assert lines.index("\\toprule") < lines.index("\\midrule") < lines.index("\\bottomrule")
    assert "\\documentclass" not in tex
    assert "p \\textless{} 0.05" in tex and "\\%" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (texlive-latex-base)")
def test_standalone_latex_compiles(results, tmp_path):
    table = make_table(results, display={"toy": "Toy_task & co #1", "ours": "Ours 100%"})
    (tmp_path / "t.tex").write_text(render(table, "latex", standalone=True))
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_display_names_and_metric_columns(results):
    table = make_table(
        results,
        metric=["a2b_r1", "zs_top1"],
        columns="metric",
        ratios=[0.01],
        display={"toy": "Toy task", "ours": "Mine"},
    )
    md = render(table, "md").splitlines()
    assert md[2] == "| Method | Toy task (r = 0.01), A→B R@1 | Toy task (r = 0.01), Zero-shot top-1 |"
    assert "| Mine | **22.0 ± 2.0**\\* | **50.0 ± 0.0** |" in md
    assert "| Hard | 31.0 ± 1.4 †2 | 50.0 ± 0.0 †2 |" in md
    assert "| Base | 11.0 ± 1.0 | 50.0 ± 0.0 †2 |" in md


def test_every_metric_is_a_metric_column_and_nothing_else(results):
    """The entry columns (orders are floats) and cost columns with gaps are never taken for metrics."""
    results = results.assign(steps=[60.0] * (len(results) - 1) + [math.nan], threads=math.nan)
    table = make_table(results, columns="metric", ratios=[0.1])
    assert [c.metric for c in table.columns] == ["a2b_r1", "zs_top1"]


def test_equal_shown_means_share_a_rank():
    seeds = {
        "base": [0.2194, 0.2214, 0.2204],
        "rival": [0.2206, 0.2186, 0.2196],
        "hard": [0.09, 0.11, 0.10],
    }
    rows = [run(m, 0.1, s, v) for m, vals in seeds.items() for s, v in enumerate(vals)]
    md = render(make_table(pd.DataFrame(rows)), "md")
    assert "| Base | **22.0 ± 0.1** |" in md and "| Rival | **22.0 ± 0.1** |" in md
    assert "| Hard | <u>10.0 ± 1.0</u>\\* |" in md


def test_csv_has_one_line_per_cell(results):
    frame = pd.read_csv(__import__("io").StringIO(render(make_table(results), "csv")))
    assert len(frame) == 5 * 2
    ours = frame[(frame["row"] == "ours") & (frame["pair_ratio"] == 0.01)].iloc[0]
    assert ours["label"] == "Ours"
    assert ours["mean"] == pytest.approx(22.0) and ours["n"] == 3 and ours["rank"] == 1
    assert bool(ours["significant"]) and ours["runs"].count(";") == 2


def test_html_fragment_links_every_run(results):
    html = render(make_table(results), "html", links=lambda d: f"../{d}/")
    assert '<td title="n = 3, p (Holm) = 0.0137"><strong>22.0 ± 2.0</strong><sup>*</sup>' in html
    assert "31.0 ± 1.4<sup>†2</sup>" in html
    assert html.count('href="../runs/') == 3 + 3 + 3 + 2 + 3 + 3 + 3
    assert render(make_table(results), "html", standalone=True).startswith("<!DOCTYPE html>")


ABLATION = {
    "ours": [0.40, 0.42, 0.44],
    "ours_no_a": [0.40, 0.43, 0.43],
    "ours_no_b": [0.30, 0.31, 0.32],
    "ours_no_c": [0.35, 0.36],
    "ctl": [0.38, 0.39, 0.40],
    "base": [0.10, 0.10, 0.10],
}


def test_ablation_rows_come_from_the_runs_relations():
    df = pd.DataFrame([run(m, 0.1, s, v) for m, v_ in ABLATION.items() for s, v in enumerate(v_)])
    md = render(ablation_table(df), "md").splitlines()
    assert md[0] == "**Ablation of Ours: primary metric by pair ratio (%)**"
    assert md[4:8] == [
        "| Ours | **42.0 ± 2.0** |",
        "| Ours (no A) | **42.0 ± 1.7** (+0.0) |",
        "| Ours (no B) | 31.0 ± 1.0\\* (−11.0) |",
        "| Ours (no C) | 35.5 ± 0.7 †2 (−6.5) |",
    ]
    # the control comes last although its order (20) is lower: ablations first, then controls
    assert md[8].startswith("| Control | <u>39.0 ± 1.0</u>") and md[8].endswith("(−3.0) |")
    assert not any(line.startswith("| Base |") for line in md)
    assert "differs from Ours" in "\n".join(md)


def test_a_method_unknown_to_the_registry_is_named_ordered_and_ablated_by_its_runs():
    """Rows of made-up methods: the table names them by label and lists them by order, not by name."""

    def made_up(method, label, order, ablation_of=None, value=0.5):
        return [
            run(method, 0.1, s, value + s / 100, task="new_task")
            | {"method_label": label, "method_order": order, "method_ablation_of": ablation_of}
            | {"method_control_of": None, "task_label": "New task", "task_order": 1.0}
            for s in range(3)
        ]

    df = pd.DataFrame(
        made_up("my_method", "My method", 5.0, value=0.6)
        + made_up("my_method_no_x", "My method (no X)", 5.01, ablation_of="my_method", value=0.4)
        + made_up("aaa_first_by_name", "Last by order", 7.0, value=0.2)
    )
    md = render(make_table(df), "md").splitlines()
    assert md[2].startswith("| Method | New task (A→B R@1), r = 0.1 |")
    assert [line.split(" | ")[0] for line in md[4:7]] == [
        "| My method",
        "| My method (no X)",
        "| Last by order",
    ]
    assert any("differs from My method" in line for line in md)
    ablation = render(ablation_table(df), "md").splitlines()
    assert ablation[0] == "**Ablation of My method: primary metric by pair ratio (%)**"
    assert [line.split(" | ")[0] for line in ablation[4:]][:3] == ["| My method", "| My method (no X)", ""]
    assert "(−20.0)" in ablation[5]
    renamed = render(make_table(df, display={"my_method": "Renamed", "new_task": "Task N"}), "md")
    assert "| Renamed |" in renamed and "Task N (A→B R@1)" in renamed and "My method (no X)" in renamed


def test_tasks_follow_their_order_and_the_ablation_picks_its_full_method(results):
    other = results.assign(
        task="other", task_label="Other task", task_order=5.0, run_id=results["run_id"] + "o"
    )
    both = pd.concat([results, other], ignore_index=True)
    groups = [c.group for c in make_table(both).columns]
    assert groups == ["Other task (A→B R@1)"] * 2 + ["Toy (A→B R@1)"] * 2
    two = pd.DataFrame(
        [run(m, 0.1, s, v) for m, v_ in ABLATION.items() for s, v in enumerate(v_)]
        + [
            run("base", 0.1, s, 0.1) | {"method": "rival", "method_label": "Rival", "method_order": 50.0}
            for s in range(3)
        ]
        + [
            run("base", 0.1, s, 0.1)
            | {"method": "rival_no_z", "method_label": "Rival (no Z)", "method_order": 50.01}
            | {"method_ablation_of": "rival"}
            for s in range(3)
        ]
    )
    assert render(ablation_table(two), "md").startswith("**Ablation of Rival:")  # 50 before 60
    assert render(ablation_table(two, full="ours"), "md").startswith("**Ablation of Ours:")
    with pytest.raises(BenchError, match="no runs of an ablation or a control of 'base'"):
        ablation_table(two, full="base")


def test_a_table_without_entry_columns_shows_names_in_name_order():
    """Runs collected before about.json existed: names as they are, sorted, the first one the baseline."""
    rows = [run(m, 0.1, s, v) for m, v in (("zeta", 0.3), ("alpha", 0.1)) for s in range(3)]
    md = render(make_table(pd.DataFrame(rows)), "md").splitlines()
    assert [line.split(" | ")[0] for line in md[4:6]] == ["| alpha", "| zeta"]
    assert any("differs from alpha" in line for line in md)
    with pytest.raises(BenchError, match="^no ablation in the results"):
        ablation_table(pd.DataFrame(rows))


def test_mistakes_are_one_line_errors(results):
    with pytest.raises(BenchError, match="did you mean rival"):
        make_table(results, methods=["rivl"])
    with pytest.raises(BenchError, match="no metric 'a2b_r2'"):
        make_table(results, metric="a2b_r2")
    with pytest.raises(BenchError, match="lacks the column"):
        make_table(results.drop(columns=["state"]))
    with pytest.raises(BenchError, match="no runs at pair ratio 0.5; present: 0.01, 0.1"):
        make_table(results, ratios=[0.5])
    with pytest.raises(BenchError, match="unknown table format"):
        render(make_table(results), "docx")
    with pytest.raises(BenchError, match="no runs of 'nope' in the results: nothing to ablate"):
        ablation_table(results, full="nope")
