"""The results table, its Markdown/LaTeX/CSV/HTML output and the ablation table, on hand-chosen numbers.

Task `toy` (primary metric a2b_r1), pair ratios 0.01 and 0.1, seeds 0-2 of split seed 0:

  r = 0.01: CLIP 10/11/12 → 11.0 ± 1.0; Gentle 20/22/24 → 22.0 ± 2.0; S-CLIP 12/10/14 → 12.0 ± 2.0;
            Hard PL 30/32 and a failed seed → 31.0 ± 1.4 †2 (highest, but incomplete, so not ranked)
  r = 0.1:  CLIP 30/31/32 → 31.0 ± 1.0; Gentle 35/37/36 → 36.0 ± 1.0; S-CLIP 33/32/37 → 34.0 ± 2.6;
            Hard PL: failed, running, pending → —

Paired t-tests against CLIP (raw p): Gentle 0.0027 and 0.0131, Hard PL 0.0155 (2 pairs), S-CLIP 0.42 and
0.12. Holm over these 5 tests: 0.0137, 0.0523, 0.0523, 0.243, 0.42, so only Gentle at r = 0.01 is
marked; without the correction Gentle at r = 0.1 and Hard PL would be too.
"""

import math
import shutil
import subprocess

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import ablation_table, make_table, render

VALUES = {
    ("clip", 0.01): [0.10, 0.11, 0.12],
    ("gentle_clip", 0.01): [0.20, 0.22, 0.24],
    ("s_clip", 0.01): [0.12, 0.10, 0.14],
    ("hard_pl", 0.01): [0.30, 0.32, "failed"],
    ("clip", 0.1): [0.30, 0.31, 0.32],
    ("gentle_clip", 0.1): [0.35, 0.37, 0.36],
    ("s_clip", 0.1): [0.33, 0.32, 0.37],
    ("hard_pl", 0.1): ["failed", "running", "pending"],
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
        **extra,
    }


@pytest.fixture
def results():
    rows = [run(m, r, s, v) for (m, r), vals in VALUES.items() for s, v in enumerate(vals)]
    # an earlier duplicate of a CLIP run, with a wrong value: the later one must win
    rows.append(run("clip", 0.01, 0, 0.90, finished_at="2025-01-01T00:00:00"))
    # a done run that does not report a metric counts as a missing seed for that metric only
    next(r for r in rows if r["run_id"] == "clip-0.01-2")["zs_top1"] = math.nan
    return pd.DataFrame(rows)


def test_markdown_numbers_marks_and_ranks(results):
    md = render(make_table(results), "md")
    lines = md.splitlines()
    assert lines[0] == "**Primary metric by pair ratio (%)**"
    assert lines[2:9] == [
        "| Method | toy (A→B R@1), r = 0.01 | toy (A→B R@1), r = 0.1 |",
        "| :-- | --: | --: |",
        "| CLIP | 11.0 ± 1.0 | 31.0 ± 1.0 |",
        "| Hard PL | 31.0 ± 1.4 †2 | — |",
        "| S-CLIP | <u>12.0 ± 2.0</u> | <u>34.0 ± 2.6</u> |",
        "| Gentle-CLIP | **22.0 ± 2.0**\\* | **36.0 ± 1.0** |",
        "| *Nearest neighbour (no training)* | 5.0 | 5.0 |",
    ]
    assert "†k: only k of 3 seeds finished; not ranked." in lines
    assert "—: no finished run." in lines
    assert "Runs not finished: 2 failed, 1 pending, 1 running." in lines
    assert any("Holm-corrected over the 5 test(s)" in line for line in lines)


def test_table_model_keeps_n_p_and_run_folders(results):
    table = make_table(results)
    gentle = next(r for r in table.rows if r.name == "gentle_clip")
    hard = next(r for r in table.rows if r.name == "hard_pl")
    assert table.n_expected == 3
    assert gentle.cells[0].p == pytest.approx(5 * 0.0027435, abs=1e-5)
    assert gentle.cells[1].p == pytest.approx(4 * 0.0130725, abs=1e-5) and not gentle.cells[1].significant
    assert (hard.cells[0].n, hard.cells[0].complete, hard.cells[0].rank) == (2, False, 0)
    assert hard.cells[1].n == 0 and hard.cells[1].runs == ()
    assert gentle.cells[0].runs == tuple(f"runs/gentle_clip-0.01-{s}" for s in range(3))


def test_holm_family_is_the_table(results):
    md = render(make_table(results, methods=["clip", "gentle_clip"]), "md")
    assert "| Gentle-CLIP | **22.0 ± 2.0**\\* | **36.0 ± 1.0**\\* |" in md.splitlines()


def test_latex_booktabs_and_marks(results):
    tex = render(make_table(results), "latex")
    lines = tex.splitlines()
    for expected in [
        "\\toprule",
        " & \\multicolumn{2}{c}{toy (A$\\rightarrow$B R@1)} \\\\",
        "\\cmidrule(lr){2-3}",
        "Method & r = 0.01 & r = 0.1 \\\\",
        "CLIP & 11.0 $\\pm$ 1.0 & 31.0 $\\pm$ 1.0 \\\\",
        "Hard PL & 31.0 $\\pm$ 1.4$^{\\dagger 2}$ & -- \\\\",
        "S-CLIP & \\underline{12.0 $\\pm$ 2.0} & \\underline{34.0 $\\pm$ 2.6} \\\\",
        "Gentle-CLIP & \\textbf{22.0 $\\pm$ 2.0}$^{*}$ & \\textbf{36.0 $\\pm$ 1.0} \\\\",
        "\\textit{Nearest neighbour (no training)} & 5.0 & 5.0 \\\\",
        "\\bottomrule",
    ]:
        assert expected in lines, expected
    assert lines.index("\\toprule") < lines.index("\\midrule") < lines.index("\\bottomrule")
    assert "\\documentclass" not in tex
    assert "p \\textless{} 0.05" in tex and "\\%" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (texlive-latex-base)")
def test_standalone_latex_compiles(results, tmp_path):
    table = make_table(results, display={"toy": "Toy_task & co #1", "gentle_clip": "Gentle-CLIP 100%"})
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
        display={"toy": "Toy", "gentle_clip": "Ours"},
    )
    md = render(table, "md").splitlines()
    assert md[2] == "| Method | Toy (r = 0.01), A→B R@1 | Toy (r = 0.01), Zero-shot top-1 |"
    assert "| Ours | **22.0 ± 2.0**\\* | **50.0 ± 0.0** |" in md
    assert "| Hard PL | 31.0 ± 1.4 †2 | 50.0 ± 0.0 †2 |" in md
    assert "| CLIP | 11.0 ± 1.0 | 50.0 ± 0.0 †2 |" in md


def test_equal_shown_means_share_a_rank():
    seeds = {
        "clip": [0.2194, 0.2214, 0.2204],
        "s_clip": [0.2206, 0.2186, 0.2196],
        "hard_pl": [0.09, 0.11, 0.10],
    }
    rows = [run(m, 0.1, s, v) for m, vals in seeds.items() for s, v in enumerate(vals)]
    md = render(make_table(pd.DataFrame(rows)), "md")
    assert "| CLIP | **22.0 ± 0.1** |" in md and "| S-CLIP | **22.0 ± 0.1** |" in md
    assert "| Hard PL | <u>10.0 ± 1.0</u>\\* |" in md


def test_csv_has_one_line_per_cell(results):
    frame = pd.read_csv(__import__("io").StringIO(render(make_table(results), "csv")))
    assert len(frame) == 5 * 2
    gentle = frame[(frame["row"] == "gentle_clip") & (frame["pair_ratio"] == 0.01)].iloc[0]
    assert gentle["mean"] == pytest.approx(22.0) and gentle["n"] == 3 and gentle["rank"] == 1
    assert bool(gentle["significant"]) and gentle["runs"].count(";") == 2


def test_html_fragment_links_every_run(results):
    html = render(make_table(results), "html", links=lambda d: f"../{d}/")
    assert '<td title="n = 3, p (Holm) = 0.0137"><strong>22.0 ± 2.0</strong><sup>*</sup>' in html
    assert "31.0 ± 1.4<sup>†2</sup>" in html
    assert html.count('href="../runs/') == 3 + 3 + 3 + 2 + 3 + 3 + 3
    assert render(make_table(results), "html", standalone=True).startswith("<!DOCTYPE html>")


def test_ablation_shows_change_from_the_full_method():
    vals = {
        "gentle_clip": [0.40, 0.42, 0.44],
        "gentle_clip_no_sdd": [0.40, 0.43, 0.43],
        "gentle_clip_no_mmd": [0.30, 0.31, 0.32],
        "gentle_clip_no_ssl": [0.35, 0.36],
        "clip_ssl": [0.38, 0.39, 0.40],
        "clip": [0.10, 0.10, 0.10],
    }
    df = pd.DataFrame([run(m, 0.1, s, v) for m, v_ in vals.items() for s, v in enumerate(v_)])
    md = render(ablation_table(df), "md").splitlines()
    assert md[0] == "**Ablation of Gentle-CLIP: primary metric by pair ratio (%)**"
    assert md[4:8] == [
        "| Gentle-CLIP | **42.0 ± 2.0** |",
        "| Gentle-CLIP (no SDD) | **42.0 ± 1.7** (+0.0) |",
        "| Gentle-CLIP (no MMD) | 31.0 ± 1.0\\* (−11.0) |",
        "| Gentle-CLIP (no SSL) | 35.5 ± 0.7 †2 (−6.5) |",
    ]
    assert md[8].startswith("| CLIP + SSL | <u>39.0 ± 1.0</u>") and md[8].endswith("(−3.0) |")
    assert not any(line.startswith("| CLIP |") for line in md)
    assert "differs from Gentle-CLIP" in "\n".join(md)


def test_mistakes_are_one_line_errors(results):
    with pytest.raises(BenchError, match="did you mean s_clip"):
        make_table(results, methods=["sclip"])
    with pytest.raises(BenchError, match="no metric 'a2b_r2'"):
        make_table(results, metric="a2b_r2")
    with pytest.raises(BenchError, match="lacks the column"):
        make_table(results.drop(columns=["state"]))
    with pytest.raises(BenchError, match="no runs at pair ratio 0.5; present: 0.01, 0.1"):
        make_table(results, ratios=[0.5])
    with pytest.raises(BenchError, match="unknown table format"):
        render(make_table(results), "docx")
