"""`study run` end to end on studies/smoke.yaml: tuning with an equal budget, the tuned and default cells,
the report; an interrupted study resumes and does only the rest, a finished one does nothing; a failed cell
is reported, never averaged away."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import bench.cell.execute
from bench import atomic, registry
from bench.cell.spec import ROOT
from bench.cli.main import main
from bench.study.file import load_study
from bench.study.plan import TUNED, plan_study
from bench.tune.study import StudyConfig, open_study

SMOKE = ROOT / "studies" / "smoke.yaml"


class Trainings:
    """Counts the runs that train (tuning trials and cells); raises `error` at the `at`-th of them."""

    def __init__(self, monkeypatch):
        self.calls, self.at, self.error, self.when = 0, None, None, None
        real = bench.cell.execute.train

        def train(spec, *args, **kwargs):
            self.calls += 1
            if self.calls == self.at or (self.when and self.when(spec)):
                raise self.error
            return real(spec, *args, **kwargs)

        monkeypatch.setattr(bench.cell.execute, "train", train)

    def fail(self, at=None, error=KeyboardInterrupt(), when=None):
        self.calls, self.at, self.error, self.when = 0, at, error, when


@pytest.fixture
def trainings(monkeypatch):
    return Trainings(monkeypatch)


def study(path, results, *extra):
    return main(["study", "run", str(path), "--results", str(results), "--jobs", "1", *extra])


def test_interrupted_study_resumes_and_a_finished_one_does_nothing(results, trainings, capsys):
    trainings.fail(at=2)  # the second trial of the first tuning study
    assert study(SMOKE, results) == 130
    trainings.fail(at=6)  # 3 trials left (1 + 2), then the third cell
    assert study(SMOKE, results) == 130
    s = load_study(SMOKE)
    for name in ("smoke-clip-synthetic-r0.05", "smoke-gentle_clip-synthetic-r0.05"):
        states = [t.state.name for t in open_study(StudyConfig.load(results, name)).trials]
        assert states.count("COMPLETE") + states.count("PRUNED") == s.tuning.trials
    cells = plan_study(s, results).cells
    assert len(cells) == 16 and sum(c.setting == TUNED for c in cells) == 8
    assert main(["study", "status", str(SMOKE), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "KeyboardInterrupt" in out and "16 cells: 2 done, 1 failed, 13 pending" in out
    trainings.fail()
    assert study(SMOKE, results) == 0
    assert trainings.calls == 14  # the cells not done, the interrupted one among them; no more trials
    assert "report → " in capsys.readouterr().out
    page = (results / "studies" / "smoke" / "report.md").read_text()
    trainings.fail()
    assert study(SMOKE, results) == 0 and trainings.calls == 0
    assert "report up to date" in capsys.readouterr().out
    assert (results / "studies" / "smoke" / "report.md").read_text() == page
    calls = atomic.read_json(results / "studies" / "smoke" / "calls.json")  # the three that did something
    shown = SMOKE.relative_to(Path.cwd()) if SMOKE.is_relative_to(Path.cwd()) else SMOKE
    assert [c["command"] for c in calls] == [f"python -m bench study run {shown} --jobs 1"] * 3
    assert [c["ending"] for c in calls] == ["interrupted", "interrupted", "exit 0"]
    assert f"{calls[-1]['seconds']:.0f} s, exit 0: python -m bench study run" in page
    assert main(["study", "status", str(SMOKE), "--results", str(results)]) == 0
    assert "16 cells: 16 done" in capsys.readouterr().out


def test_the_report_shows_tuned_and_default_rows_and_a_failed_cell(tmp_path, results, trainings, capsys):
    data = yaml.safe_load(SMOKE.read_text())
    data["pair_ratios"], data["report"] = [0.1], {"tables": ["ratio"], "plots": ["ratio"]}
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(data))
    published = registry.methods().get("gentle_clip").params["w_sdd"].default

    def defaults_seed_1(spec):  # the published-defaults cell of Gentle-CLIP, seed 1 (not a tuning trial)
        cell = spec.method == "gentle_clip" and spec.seed == 1 and spec.task_params["val_fraction"] == 0
        return cell and spec.method_params["w_sdd"] == published

    trainings.fail(error=RuntimeError("boom in the test"), when=defaults_seed_1)
    assert study(path, results) == 1
    folder = results / "studies" / "failing"
    md, tex, html = ((folder / f).read_text() for f in ("report.md", "tables.tex", "report.html"))
    for row in ("CLIP (tuned)", "CLIP (defaults)", "Gentle-CLIP (tuned)", "Gentle-CLIP (defaults)"):
        assert row in md and row in tex and row in html, row
    failed = "failed: gentle_clip · synthetic · r=0.1 · split 1 · seed 1 (defaults): RuntimeError: boom"
    assert failed.replace("_", "\\_") in md and failed in html
    assert "boom in the test" in html and "†1" in md  # the cell with one seed of two is marked, not ranked
    assert (folder / "figures" / "ratio.png").is_file() and not (folder / "figures" / "cost.png").exists()
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    if shutil.which("pdflatex"):  # installed for the tests by the set-up (texlive-latex-base)
        run = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-output-directory", str(tmp_path)]
        proc = subprocess.run([*run, str(folder / "tables.tex")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and (tmp_path / "tables.pdf").is_file(), proc.stdout[-2000:]
    trainings.fail()
    assert study(path, results) == 0 and trainings.calls == 1  # only the failed cell is redone
    assert "none: every cell of the study is done" in (folder / "report.md").read_text()


def test_local_processes_tune_and_run_the_study(results, capsys):
    """--jobs 2: the tuning studies in two `tune_worker` processes, the cells in the worker pool."""
    assert main(["study", "run", str(SMOKE), "--results", str(results), "--jobs", "2"]) == 0
    assert len(list((results / "presets").glob("smoke-*.json"))) == 2
    assert (results / "studies" / "smoke-clip-synthetic-r0.05.workers.txt").is_file()
    assert main(["study", "status", str(SMOKE), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "16 cells: 16 done" in out and out.count("complete 2") == 2


def test_the_cluster_launcher_runs_the_cells(tmp_path, results, capsys):
    """--cluster debug: the cells through `run`'s submitit launcher, the tuning in this process."""
    data = yaml.safe_load(SMOKE.read_text())
    data.update(pair_ratios=[0.1], seeds=[0], tune={"trials": 1, "pair_ratio": 0.1})
    data["report"] = {"tables": ["ratio"], "plots": []}
    path = tmp_path / "debug.yaml"
    path.write_text(yaml.safe_dump(data))
    argv = ["study", "run", str(path), "--results", str(results), "--cluster", "debug"]
    assert main(argv) == 0
    assert "debug: 2 cell(s) of clip, gentle_clip to run here" in capsys.readouterr().out
    assert main(["study", "status", str(path), "--results", str(results)]) == 0
    assert "2 cells: 2 done" in capsys.readouterr().out
    assert main([*argv[:-2], "--jobs", "2", "--cluster", "debug"]) == 2
    assert "--jobs runs cells on this machine" in capsys.readouterr().err
