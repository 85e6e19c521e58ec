"""The results table, its Markdown/LaTeX/CSV/HTML output and the ablation table, on hand-chosen numbers.

The methods are made up (none is in the registry): what a table shows of them, their label, order and
ablation relations, comes with their runs as `collect`'s entry columns. Base (order 10), Hard (30),
Rival (50) and Ours (60) on task `toy` (label Toy, primary metric a2b_r1), pair ratios 0.01 and 0.1,
seeds 0-2 of split seed 0:

  r = 0.01: Base 10/11/12 → 11.0 ± 1.0; Ours 20/22/24 → 22.0 ± 2.0; Rival 12/10/14 → 12.0 ± 2.0;
            Hard 30/32 and a failed seed → 31.0 ± 1.4 †2 (highest, but incomplete, so not ranked)
  r = 0.1:  Base 30/31/32 → 31.0 ± 1.0; Ours 35/37/36 → 36.0 ± 1.0; Rival 33/32/37 → 34.0 ± 2.6;
            Hard: failed, running, pending → —

Paired t-tests against Base, the first by order (raw p): Ours 0.0027 and 0.0131, Rival 0.42 and 0.12;
Hard at r = 0.01 has 2 pairs only, so no test (a t-test would give 0.0155). Holm over these 4 tests:
0.0110, 0.0392, 0.243, 0.42, so Ours is marked at both ratios and nothing else.
"""

import json
import math
import shutil
import subprocess

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import ablation_table, make_table, render
from bench.report.frame import select

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
# the reference rows a task declares (Task.references), as collect writes them: JSON text
REFERENCES = json.dumps({"nn": "Nearest neighbour (no training)"})


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
        "task_references": REFERENCES,
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
        "| Ours | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |",
        "| *Nearest neighbour (no training)* | 5.0 | 5.0 |",
    ]
    assert "†k: only k of 3 seeds finished; not ranked." in lines
    assert "—: no finished run." in lines
    assert "Runs not finished: 2 failed, 1 pending, 1 running." in lines
    assert any("differs from Base" in line and "Holm-corrected over the 4 test(s)" in line for line in lines)
    assert any("paired t-test over n = 3 (split seed, seed) pairs" in line for line in lines)
    assert "No test against Base in 2 cell(s) (no mark): fewer than 3 paired seeds." in lines
    assert lines[-len(make_table(results).notes) :][0].startswith("Mean ± sample std over seeds")


def test_a_task_with_fewer_seeds_is_full_at_its_own_count(results):
    """A study may run 3 seeds on one task and 2 on another: each task's cells are full at its own count
    (ranked, no †), in one table and in the ablation-style table across both tasks."""
    rows = [
        run(m, 0.01, s, v, task="other")
        for (m, r), vals in VALUES.items()
        if r == 0.01
        for s, v in enumerate(vals[:2])
        if m != "hard"
    ]
    both = pd.concat([results, pd.DataFrame(rows)], ignore_index=True)
    table = make_table(both)
    by_task = {c.task: full for c, full in zip(table.columns, table.n_expected, strict=True)}
    assert by_task == {"toy": 3, "other": 2}
    ours = next(r for r in table.rows if r.name == "ours")
    other = next(j for j, c in enumerate(table.columns) if c.task == "other")
    assert ours.cells[other].complete and ours.cells[other].rank == 1
    md = render(table, "md")
    assert "a full cell has the seeds of its task: 2 on Other task, 3 on Toy." in md
    assert "| Ours | **21.0 ± 1.4** | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |" in md
    assert "†k: only k of the task's seeds finished; not ranked." in md  # Hard on Toy: 2 of 3
    csv = render(table, "csv").splitlines()
    assert any(
        line.startswith("ours,Ours,False,other,0.01,a2b_r1,") and ",2,2,True,1," in line for line in csv
    )


def test_table_model_keeps_n_p_and_run_folders(results):
    table = make_table(results)
    ours = next(r for r in table.rows if r.name == "ours")
    hard = next(r for r in table.rows if r.name == "hard")
    assert table.n_expected == (3, 3)
    assert ours.cells[0].p == pytest.approx(4 * 0.0027435, abs=1e-5)
    assert ours.cells[1].p == pytest.approx(3 * 0.0130725, abs=1e-5) and ours.cells[1].significant
    assert math.isnan(hard.cells[0].p) and not hard.cells[0].significant  # 2 pairs: no test
    assert (hard.cells[0].n, hard.cells[0].complete, hard.cells[0].rank) == (2, False, 0)
    assert hard.cells[1].n == 0 and hard.cells[1].runs == ()
    assert ours.cells[0].runs == tuple(f"runs/ours-0.01-{s}" for s in range(3))


def test_holm_family_is_the_table(results):
    md = render(make_table(results, methods=["base", "ours"]), "md")
    assert "| Ours | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |" in md.splitlines()
    ours = next(r for r in make_table(results, methods=["base", "ours"]).rows if r.name == "ours")
    assert [c.p for c in ours.cells] == pytest.approx([2 * 0.0027435, 0.0130725], abs=1e-6)


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
        "Ours & \\textbf{22.0 $\\pm$ 2.0}$^{*}$ & \\textbf{36.0 $\\pm$ 1.0}$^{*}$ \\\\",
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
    assert '<td title="n = 3, p (Holm) = 0.011"><strong>22.0 ± 2.0</strong><sup>*</sup>' in html
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


def variants_frame(old_version=False):
    """Base and Ours at r = 0.1, seeds 0-2, each swept at steps=50 and again at steps=10; with
    `old_version`, a third Base try at steps=50 of an older code version (not current)."""
    values = {
        ("base", 50): [0.30, 0.31, 0.32],
        ("base", 10): [0.10, 0.11, 0.12],
        ("ours", 50): [0.40, 0.42, 0.44],
        ("ours", 10): [0.20, 0.22, 0.24],
    }
    rows = [
        run(m, 0.1, s, v, run_id=f"{m}-{steps}-{s}", p_task_steps=steps, code_version=f"v{m}", current=True)
        for (m, steps), vals in values.items()
        for s, v in enumerate(vals)
    ]
    if old_version:
        rows += [
            run(
                "base",
                0.1,
                s,
                0.9,
                run_id=f"base-old-{s}",
                p_task_steps=50,
                code_version="0ld",
                current=False,
            )
            for s in range(3)
        ]
    return pd.DataFrame(rows)


def test_two_variants_of_a_cell_are_two_labelled_rows_never_one_cell():
    table = make_table(variants_frame())
    rows = {r.label: r.cells[0] for r in table.rows if not r.reference}
    assert list(rows) == ["Base (steps=10)", "Base (steps=50)", "Ours (steps=10)", "Ours (steps=50)"]
    assert rows["Base (steps=10)"].mean == pytest.approx(11.0) and rows["Base (steps=10)"].n == 3
    assert rows["Base (steps=50)"].mean == pytest.approx(31.0) and rows["Base (steps=50)"].n == 3
    # each Ours variant is tested against the Base variant of the same steps: +10 each, p = 0.0027 raw
    assert rows["Ours (steps=10)"].p == pytest.approx(2 * 0.0027435, abs=1e-6)
    md = render(table, "md")
    assert "| Base (steps=10) | 11.0 ± 1.0 |" in md and "| Ours (steps=50) | **42.0 ± 2.0**\\* |" in md
    assert "has a row per variant, labelled by what differs" in md
    assert "A row with a variant in brackets is tested against the Base row of the same variant." in md


def test_where_picks_one_variant_and_bad_keys_or_values_are_one_line_errors():
    df, old = select(variants_frame(), ["steps=10"])
    assert old == 0 and set(df["p_task_steps"]) == {10}
    labels = [r.label for r in make_table(df).rows if not r.reference]
    assert labels == ["Base", "Ours"]  # one variant left: the plain names
    assert len(select(variants_frame(), ["p_task_steps=50.0"])[0]) == 6
    with pytest.raises(
        BenchError, match=r"^--where stps: no parameter 'stps' in the results \(did you mean steps"
    ):
        select(variants_frame(), ["stps=10"])
    with pytest.raises(BenchError, match="^--where steps=7: no run has steps = 7; present: 10, 50$"):
        select(variants_frame(), ["steps=7"])
    with pytest.raises(BenchError, match="write key=value"):
        select(variants_frame(), ["steps"])


def test_an_older_code_version_is_left_out_and_counted_unless_all_versions():
    df, old = select(variants_frame(old_version=True))
    assert old == 3 and "0ld" not in set(df["code_version"])
    assert [r.label for r in make_table(df).rows if not r.reference][:2] == [
        "Base (steps=10)",
        "Base (steps=50)",
    ]
    every, none_out = select(variants_frame(old_version=True), all_versions=True)
    assert none_out == 0 and len(every) == 15
    labels = [r.label for r in make_table(every).rows if not r.reference]
    assert "Base (steps=50, code 0ld)" in labels and "Base (steps=50, code vbase)" in labels
    picked, _ = select(variants_frame(old_version=True), ["code_version=0ld"])
    assert set(picked["run_id"]) == {"base-old-0", "base-old-1", "base-old-2"}


def test_reruns_of_one_run_id_still_collapse_to_the_latest():
    df = variants_frame()
    rerun = df.iloc[[0]].assign(a2b_r1=0.99, finished_at="2026-01-01T00:00:00")
    rows = make_table(pd.concat([df, rerun], ignore_index=True)).rows
    cell = next(r for r in rows if r.label == "Base (steps=50)").cells[0]
    assert cell.n == 3 and cell.mean == pytest.approx((99 + 31 + 32) / 3)


def test_two_seeds_never_get_a_star():
    # Ours is 10 points above Base on both seeds: a t-test would say p = 0.0317, but 2 pairs get no test
    rows = [run("base", 0.1, s, 0.10 + s / 100) for s in range(2)]
    rows += [run("ours", 0.1, s, 0.20 + s / 100 + (0.005 if s else 0)) for s in range(2)]
    table = make_table(pd.DataFrame(rows))
    ours = next(r for r in table.rows if r.name == "ours").cells[0]
    assert math.isnan(ours.p) and not ours.significant
    md = render(table, "md")
    assert "\\*" not in md.split("\n\n")[1]  # no mark in the table body
    assert "No test against Base in any cell (no mark): fewer than 3 paired seeds." in md
    assert "differs from" not in md


def test_equal_differences_get_the_permutation_test_and_no_t_test_star():
    # Ours = Base + 5 on each of 3 seeds: zero variance, t infinite; the exact sign-flip p = 0.25
    rows = [run("base", 0.1, s, 0.10 + s / 50) for s in range(3)]
    rows += [run("ours", 0.1, s, 0.15 + s / 50) for s in range(3)]
    table = make_table(pd.DataFrame(rows))
    ours = next(r for r in table.rows if r.name == "ours").cells[0]
    assert ours.p == pytest.approx(0.25) and not ours.significant
    assert any("exact sign-flip permutation test" in n and "zero variance" in n for n in table.notes)


def test_spread_ci_is_the_student_t_interval_of_the_mean():
    # Base at r = 0.01: 10, 11, 12 → std 1, half-width t_{0.975, 2} · 1 / sqrt 3 = 4.302653 / 1.732051 = 2.484
    table = make_table(results_frame(), spread="ci")
    base = next(r for r in table.rows if r.name == "base").cells[0]
    assert base.ci == pytest.approx(4.302652729911 / math.sqrt(3), rel=1e-9) and base.std == pytest.approx(
        1.0
    )
    md = render(table, "md")
    assert "| Base | 11.0 ± 2.5 | 31.0 ± 2.5 |" in md
    assert "95 % confidence interval of the mean over seeds (Student t" in md
    frame = pd.read_csv(__import__("io").StringIO(render(table, "csv")))
    assert frame.loc[frame["row"] == "base", "ci95"].iloc[0] == pytest.approx(2.4841377, rel=1e-6)
    with pytest.raises(BenchError, match="spread must be one of std, ci"):
        make_table(results_frame(), spread="sem")


def results_frame():
    rows = [run(m, r, s, v) for (m, r), vals in VALUES.items() for s, v in enumerate(vals)]
    return pd.DataFrame(rows)


def test_reference_rows_are_named_by_the_task_that_declares_them(results):
    """The label of a reference row comes with its task's runs (`task_references`, from Task.references):
    the report knows no task's references; an undeclared one shows its raw name."""
    other = results.assign(task_references=json.dumps({"nn": "Lookup"}))
    assert "| *Lookup* | 5.0 | 5.0 |" in render(make_table(other), "md").splitlines()
    bare = results.drop(columns="task_references")
    assert "| *nn* | 5.0 | 5.0 |" in render(make_table(bare), "md").splitlines()
