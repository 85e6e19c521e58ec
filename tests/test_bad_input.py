"""The bad-input suite: distinct bad inputs and faults driven through the CLI, each checked for one
line naming the problem, its exit code, no traceback, and nothing new in the results folder (a
listing of every file, with its size and modification time, before and after)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cli import main

FAST = {"steps": "5", "n_train": "200", "n_test": "50", "width": "16", "checkpoint_every": "0"}
TASK = [arg for k, v in FAST.items() for arg in ("--task-param", f"{k}={v}")]
GRID = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", "{R}", *TASK]
BARE = ["run", "--methods", "clip", "--results", "{R}", "--tasks"]
TUNE = ["tune", "--method", "clip", "--task", "synthetic", "--trials", "1"]

# (argv with {R} the results folder holding finished runs and {E} an empty folder, the text the one line
# must hold); every one of them exits with 2
CASES = [
    # the grid of `run`
    ([*GRID, "--methods", "clp"], "unknown method 'clp' (did you mean clip"),
    ([*GRID, "--tasks", "synthetc"], "unknown task 'synthetc' (did you mean synthetic"),
    ([*GRID, "--pair-ratio", "1.5"], "pair ratio 1.5 is outside [0, 1]"),
    ([*GRID, "--pair-ratio", "half"], "pair ratio 'half' is not a number"),
    ([*GRID, "--seeds", "0,x"], "--seeds: 'x' is not an integer"),
    ([*GRID, "--split-seed", "1.5"], "--split-seed: '1.5' is not an integer"),
    ([*GRID, "--seeds", "12345678901234567890"], "seed"),
    ([*GRID, "--method-param", "temperature"], "--method-param 'temperature' is malformed"),
    ([*GRID, "--method-param", "temprature=0.1"], "(did you mean temperature"),
    ([*GRID, "--task-param", "stepz=3"], "unknown parameter 'stepz' for task synthetic (did you mean steps"),
    ([*GRID, "--task-param", "steps=many"], "parameter steps='many' is not a valid int"),
    ([*GRID, "--task-param", "unpaired=both"], "parameter unpaired='both' is not one of: same, disjoint"),
    ([*GRID, "--method-param", "gentle.w=1"], "method 'gentle' is not among the selected"),
    ([*GRID, "--method-param", "steps=5"], "steps is a task parameter: use --task-param steps=5"),
    ([*GRID, "--task-param", "temperature=0.1"], "temperature is a method parameter: use --method-param"),
    # values outside their valid ranges, and cells that would train on nothing
    ([*GRID, "--task-param", "steps=-5"], "parameter steps=-5 is outside its valid range [1, inf)"),
    ([*GRID, "--task-param", "batch_size=0"], "batch_size=0 is outside its valid range"),
    ([*GRID, "--task-param", "lr=-1"], "lr=-1"),
    ([*GRID, "--task-param", "paired_fraction=1.5"], "paired_fraction=1.5"),
    ([*GRID, "--task-param", "val_fraction=1"], "val_fraction=1"),
    ([*GRID, "--task-param", "embed_dim=0"], "embed_dim=0"),
    ([*GRID, "--task-param", "head_dropout=1.5"], "head_dropout=1.5"),
    ([*GRID, "--task-param", "n_test=0"], "n_test=0"),
    ([*GRID, "--method-param", "temperature=0"], "temperature=0"),
    ([*GRID, "--methods", "gentle_clip", "--method-param", "w_sdd=nan"], "w_sdd=nan"),
    ([*GRID, "--task-param", "n_train=5", "--pair-ratio", "0.01"], "gives round(0.05) = 0 pairs"),
    ([*GRID, "--dry-run", "--task-param", "steps=-5"], "parameter steps=-5 is outside its valid range"),
    # the parameters and rules of the closed-form methods, the variants and the vl task
    ([*GRID, "--methods", "asif", "--method-param", "temperature=0.1"], "unknown parameter 'temperature'"),
    ([*GRID, "--methods", "sotalign", "--method-param", "dim=8"], "unknown parameter 'dim' for method sotal"),
    ([*GRID, "--methods", "gentle_clip_released", "--method-param", "w_sdd=0.3"], "fixes w_sdd=0.7"),
    (
        [*GRID, "--methods", "gw_match", "--pair-ratio", "0", "--task-param", "n_train=4100"]
        + ["--method-param", "match_items=0"],
        "4100 items, over its cap of 4000 (GW costs O(n³)); set --method-param match_items=N",
    ),
    ([*GRID, "--methods", "gw_match", "--method-param", "match_items=5000"], "match_items=5000 is outside"),
    ([*GRID, "--methods", "gw_match", "--method-param", "alpha=2"], "alpha=2.0 is outside its valid range"),
    ([*GRID, "--methods", "sue", "--method-param", "items=1"], "items=1 is outside its valid range [2,"),
    ([*GRID, "--methods", "sue", "--method-param", "n_components=0"], "n_components=0 is outside"),
    ([*BARE, "vl", "--task-param", "captions_per_image=0"], "captions_per_image=0 is outside its valid"),
    ([*BARE, "vl", "--task-param", "mode=frozen"], "task vl: encoder=cnn starts from random weights"),
    ([*BARE, "vl", "--task-param", "source=synthetic:3", "--pair-ratio", "0.1"], "round(0.3) = 0 pairs"),
    # the flags of `run`
    ([*GRID, "--jobs", "0"], "--jobs 0: give a positive number of cells to run at once"),
    ([*GRID, "--profile", "x.yaml"], "--profile needs --cluster slurm, local or debug"),
    ([*GRID, "--cluster", "debug", "--detach"], "--cluster debug runs the cells in this process"),
    ([*GRID, "--cluster", "local", "--jobs", "2"], "--jobs runs cells on this machine"),
    (
        [*GRID, "--cluster", "slurm", "--profile", "/nonexistent.yaml"],
        "profile /nonexistent.yaml: no such file",
    ),
    ([*GRID, "--method-param", "preset=nosuch"], "no {R}/presets/nosuch.json; known presets: none"),
    ([*GRID, "--method-param", "preset_override=true"], "it goes with --method-param preset=NAME"),
    # task rules
    ([*BARE, "rs", "--task-param", "datasets=nosuch"], "task rs: datasets must name some of"),
    ([*BARE, "rs", "--task-param", "zero_shot=none"], "zero_shot=none leaves the task without its primary"),
    ([*BARE, "rs", "--task-param", "splits=aid=dev"], "splits: aid='dev': the split must be one of"),
    ([*BARE, "rs", "--task-param", "contamination=no"], "contamination"),
    ([*BARE, "protein", "--task-param", "source=nosuch:x"], "source 'nosuch:x' is not one of"),
    (["data", "nosuch"], "unknown task 'nosuch'"),
    (["data", "synthetic", "--task-param", "n_train=-1"], "n_train=-1 is outside its valid range"),
    # tables, figures, the report page
    (
        ["table", "--results", "{R}", "--where", "stepz=5"],
        "no parameter 'stepz' in the results (did you mean",
    ),
    (["table", "--results", "{R}", "--where", "steps=7"], "no run has steps = 7; present: 5"),
    (["table", "--results", "{R}", "--where", "steps"], "--where steps: write key=value"),
    (["table", "--results", "{R}", "--metric", "nosuch"], "no metric 'nosuch' in the results"),
    (["table", "--results", "{R}", "--tasks", "protein"], "no runs of task 'protein' in the results"),
    (["table", "--results", "{R}", "--methods", "nosuch"], "no runs of method 'nosuch' in the results"),
    (["table", "--results", "{R}", "--names", "/nonexistent.yaml"], "--names /nonexistent.yaml: cannot read"),
    (["table", "--results", "{R}", "--out", "/proc/nope/t.md"], "--out /proc/nope/t.md: cannot write there"),
    (["table", "--results", "{R}", "--ablation", "--methods", "clip"], "no runs of an ablation or a control"),
    (["plot", "--results", "{R}", "--out", "{R}/fig.xyz"], "a figure needs the suffix of an image format"),
    (["report", "--results", "{R}", "--out", "/proc/nope/r.html"], "--out /proc/nope/r.html: cannot write"),
    (["table", "--results", "{E}"], "no runs under {E}/runs"),
    (["status", "--results", "{E}"], "no runs under {E}/runs"),
    (["collect", "--results", "{E}"], "no runs under {E}/runs"),
    # tuning
    (
        [
            "tune",
            "--method",
            "clip",
            "--task",
            "synthetic",
            "--trials",
            "1",
            "--metric",
            "nosuch",
            "--results",
            "{R}",
        ],
        "--metric nosuch: task synthetic reports no such validation metric",
    ),
    (
        ["tune", "--method", "clip", "--task", "synthetic", "--trials", "1", "--storage", "nosuchdb://x"],
        "--storage nosuchdb://x: no database kind 'nosuchdb'",
    ),
    (["tune", "--method", "nosuch", "--task", "synthetic", "--trials", "1"], "unknown method 'nosuch'"),
    ([*TUNE, "--seed", "-1"], "--seed -1: a train seed must be in [0, "),
    (
        [*TUNE, "--pair-ratio", "0.01", "--task-param", "n_train=5", "--results", "{R}"],
        "r = 0.01 of 4 train items gives round(0.04) = 0 pairs",
    ),
    (
        [*TUNE, "--task-param", "amp=fp16", "--task-param", "device=cpu", "--results", "{R}"],
        "task synthetic: amp=fp16 needs CUDA",
    ),
    (["tune", "--method", "clip", "--task", "synthetic"], "give a positive number of trials"),
    (["tune", "--show", "--study", "nosuch", "--results", "{R}"], "no study 'nosuch' under {R}/studies"),
    # benchmarks
    (["perf", "losses", "--batches", "x"], "--batches: 'x' is not an integer"),
    (["perf", "losses", "--batches", "64,0"], "--batches 64,0: give batch sizes of at least 2 rows"),
    (["perf", "train", "--threads", "-1"], "--threads -1: give a number of torch threads, or 0"),
]


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root, with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A results folder with finished runs of a method and its ablation, 3 seeds each."""
    root = tmp_path_factory.mktemp("bad-input") / "results"
    grid = ["run", "--methods", "clip,gentle_clip,gentle_clip_no_sdd", "--tasks", "synthetic"]
    assert main([*grid, "--seeds", "0,1,2", "--jobs", "1", "--results", str(root), *TASK]) == 0
    return root


def fill(argv: list[str], results: Path, empty: Path) -> list[str]:
    return [a.replace("{R}", str(results)).replace("{E}", str(empty)) for a in argv]


def test_the_suite_has_at_least_40_distinct_cases():
    assert len({tuple(argv) for argv, _ in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_one_line_exit_2_no_traceback_nothing_written(argv, message, finished, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative defaults (./results) land in a fresh folder
    empty = tmp_path / "empty"
    before, cwd_before = listing(finished), listing(tmp_path)
    code = main(fill(argv, finished, empty))
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fill([message], finished, empty)[0] in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert listing(finished) == before, "the results folder changed"
    assert listing(tmp_path) == cwd_before, "something was written in the working folder"


def test_a_truncated_status_file_is_named_and_survived(finished, tmp_path, capsys):
    """A fault, not a mistake: `status` exits 0, names the file, counts it, and writes nothing."""
    copy = tmp_path / "results"
    os.system(f"cp -a {finished} {copy}")
    broken = next((copy / "runs").iterdir()) / "status.json"
    broken.write_text(broken.read_text()[:20])
    before = listing(copy)
    assert main(["status", "--results", str(copy)]) == 0
    out, err = capsys.readouterr()
    assert str(broken) in err and "Traceback" not in out + err
    assert listing(copy) == before
