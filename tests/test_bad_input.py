"""The bad-input suite: distinct bad inputs and faults driven through the CLI, each checked for one
line naming the problem, its exit code, no traceback, and nothing new in the results folder (a
listing of every file, with its size and modification time, before and after)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import BenchError

FAST = {"steps": "5", "n_train": "200", "n_test": "50", "width": "16", "checkpoint_every": "0"}
TASK = [arg for k, v in FAST.items() for arg in ("--task-param", f"{k}={v}")]
GRID = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", "{R}", *TASK]
BARE = ["run", "--methods", "clip", "--results", "{R}", "--tasks"]
TUNE = ["tune", "--method", "clip", "--task", "synthetic", "--trials", "1"]


def tp(*pairs: str) -> list[str]:
    """--task-param arguments of `pairs` (k=v)."""
    return [arg for kv in pairs for arg in ("--task-param", kv)]


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
    # a method that does not apply to the task, and the new methods' parameters out of range
    (
        [*GRID, "--methods", "semiclip"],
        "method semiclip does not apply to task synthetic: semiclip needs keywords",
    ),
    ([*GRID, "--methods", "structure", "--method-param", "structure_levels=0"], "structure_levels=0"),
    ([*GRID, "--methods", "structure", "--method-param", "w_structure=-1"], "w_structure=-1"),
    (
        [*GRID, "--methods", "structure", "--method-param", "structure_weighting=log"],
        "structure_weighting='log'",
    ),
    ([*GRID, "--methods", "gentle_clip", "--method-param", "structure_tau=0"], "structure_tau=0"),
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
    (
        [*BARE, "vl", "--methods", "semiclip"],
        "keywords=none gives no keyword vocabulary; set --task-param keywords",
    ),
    (
        [*BARE, "vl", "--task-param", "keywords=classes", "--task-param", "source=local:/x"],
        "keywords=classes needs",
    ),
    ([*BARE, "vl", "--task-param", "mode=frozen"], "task vl: encoder=cnn starts from random weights"),
    ([*BARE, "vl", "--task-param", "source=synthetic:3", "--pair-ratio", "0.1"], "round(0.3) = 0 pairs"),
    # frozen features a task cannot serve, for a method that reads them (issue 21)
    (
        [
            *BARE,
            "vl",
            "--methods",
            "clip,cca",
            *tp("source=synthetic:32", "encoder=released", "pretrained=none"),
        ]
        + tp("mode=frozen"),
        "method cca on task vl: encoder=released pretrained=none mode=frozen caches random ResNet-34",
    ),
    (
        [*BARE, "vl", "--methods", "asif", *tp("source=synthetic:32", "frozen_text=clip")],
        "method asif on task vl: frozen_text=clip needs an open_clip encoder's text tower and encoder=cnn",
    ),
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


# faults and limits (issue 25): each one line, its exit code, nothing written or lost

LONG = "/tmp/" + "a" * 5000


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*GRID, "--nproc", "1000"], "--nproc 1000: this machine takes"),
        ([*GRID, "--jobs", "1000", "--seeds", ",".join(map(str, range(1000)))], "--jobs 1000: this machine"),
        ([*BARE, "vl", "--task-param", f"source=local:{LONG}"], "task vl: File name too long (ENAMETOOLONG)"),
        (
            [*BARE, "rs", "--task-param", f"source=local:{LONG}"],
            "task rs: File name too long (ENAMETOOLONG) on /tmp/aaa",
        ),
        ([*BARE, "protein", "--task-param", f"source=local:{LONG}"], "task protein: File name too long"),
        (["data", "vl", "--source", f"local:{LONG}"], "characters); give a shorter path (at most 4096"),
    ],
    ids=["nproc", "jobs", "vl-long", "rs-long", "protein-long", "data-long"],
)
def test_limits_and_long_names(argv, message, finished, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BENCH_MAX_PROCS", raising=False)
    monkeypatch.chdir(tmp_path)
    fresh = tmp_path / "fresh"
    before = listing(finished)
    results = finished if "--nproc" in argv or "--jobs" in argv else fresh
    code = main(fill(argv, results, tmp_path))
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err, err
    assert listing(finished) == before and not fresh.exists()


def test_the_process_limit_names_its_override(monkeypatch):
    from bench.cell import limits

    monkeypatch.setenv("BENCH_MAX_PROCS", "3")
    assert limits.process_limit() == (3, "$BENCH_MAX_PROCS=3")
    limits.check_processes(3, "--jobs 3")
    with pytest.raises(
        BenchError, match=r"--jobs 4: this machine takes 3 .* set BENCH_MAX_PROCS=4 to override"
    ):
        limits.check_processes(4, "--jobs 4")
    monkeypatch.delenv("BENCH_MAX_PROCS")
    monkeypatch.setattr(limits, "available_mb", lambda: 2000.0)
    monkeypatch.setattr(limits, "cores", lambda: 64)
    assert limits.process_limit(limits.worker_mb([None, 900.0]))[0] == 2  # 2000 MB / 900 MB a worker
    with pytest.raises(BenchError, match="each rank on CUDA takes one GPU and torch sees 1"):
        limits.check_gpus(2, 1)


def test_collect_on_a_read_only_folder_is_one_line(finished, tmp_path, capsys, monkeypatch):
    import errno

    from bench import atomic

    def read_only(path, write):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(atomic, "write_with", read_only)
    before = listing(finished)
    assert main(["collect", "--results", str(finished)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot write results.parquet and results.csv" in err, err
    assert "(Read-only file system)" in err and listing(finished) == before


def test_an_undecodable_vl_image_is_one_line_and_leaves_no_folder(tmp_path, capsys):
    import vl_files

    root = vl_files.karpathy(tmp_path / "flickr", "flickr30k")
    broken = root / "flickr30k-images" / "1000092801.jpg"  # the first test image
    broken.write_bytes(b"not a jpeg")
    results = tmp_path / "results"
    argv = [*BARE, "vl", "--task-param", f"source=local:{root}", "--task-param", "n_train=0"]
    code = main(fill([*argv, "--task-param", "n_test=0", "--jobs", "1"], results, tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"image 1 of 3 ({broken}) cannot be decoded" in err and "Traceback" not in err
    assert not results.exists()  # no empty runs/ folder left behind


def test_a_full_disk_fails_one_cell_and_the_sweep_goes_on(tmp_path, capsys, monkeypatch):
    """From its training on, nothing can be written in the first cell's folder: that cell fails (and says
    that it could not record it), the other runs to the end, the exit code is 1 and no file is corrupt."""
    import errno

    from bench import atomic
    from bench.cell import execute, store

    full: set[Path] = set()
    real_write, real_log, real_train = atomic.write_with, store.RunFolder.log, execute._train_and_record

    def no_space(path):
        return OSError(errno.ENOSPC, "No space left on device", str(path))

    def write_with(path, write):
        if Path(path).parent in full:
            raise no_space(path)
        real_write(path, write)

    def log(self, line):
        if self.path in full:
            raise no_space(self.file("log.txt"))
        real_log(self, line)

    def train_and_record(folder, *args):
        if not full:
            full.add(folder.path)
        return real_train(folder, *args)

    monkeypatch.setattr(atomic, "write_with", write_with)
    monkeypatch.setattr(store.RunFolder, "log", log)
    monkeypatch.setattr(execute, "_train_and_record", train_and_record)
    results = tmp_path / "results"
    code = main(fill([*GRID, "--seeds", "0,1", "--jobs", "1"], results, tmp_path))
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in out + err and "No space left on device (ENOSPC)" in err
    assert "1 of 2 runs failed" in err and "its failure could not be recorded" in out
    states = {f.name: store.RunFolder(f).state() for f in (results / "runs").iterdir()}
    assert sorted(states.values()) == ["done", "interrupted"] or sorted(states.values()) == ["done", "failed"]
    for f in (results / "runs").rglob("*.json"):
        atomic.read_json(f)  # every file written is whole


# study files, journals and results folders (issue 25)

TINY_STUDY = """
tasks:
  synthetic:
    params: {steps: 5, n_train: 200, n_test: 50, width: 16, checkpoint_every: 0}
methods: [clip]
pair_ratios: [0.1]
seeds: SEEDS
tune: {trials: 1, pair_ratio: 0.1}
"""


def study_file(folder: Path, name: str = "tiny", seeds: str = "[0]", extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(TINY_STUDY.replace("SEEDS", seeds) + extra)
    return path


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> tuple[Path, Path]:
    """(study file, results folder) of a tiny study run to its end: one trial, one tuned cell."""
    root = tmp_path_factory.mktemp("study")
    path, results = study_file(root), root / "results"
    assert main(["study", "run", str(path), "--results", str(results), "--jobs", "1"]) == 0
    return path, results


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            "report: {metric: nosuch}\n",
            "report.metric: task synthetic reports no metric 'nosuch'; its metrics: a2b_r1",
        ),
        ("methods:\n  clip: {preset: nosuch}\n", "methods.clip.preset: no "),
        ("tasks: [synthetic]\n", "line 9: key 'tasks' given twice in one mapping; keep one of them"),
    ],
    ids=["report-metric", "preset", "duplicated-key"],
)
def test_a_study_file_is_checked_whole_before_anything_runs(extra, message, tmp_path, capsys):
    body = TINY_STUDY.replace("SEEDS", "[0]")
    if extra.startswith("methods"):
        body = body.replace("methods: [clip]\n", "")
    path = tmp_path / "x.yaml"
    path.write_text(body + extra)
    results = tmp_path / "results"
    assert main(["study", "run", str(path), "--results", str(results), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"error: study {path}: " in err and message in err, err
    assert not results.exists()


def test_a_names_file_with_a_duplicated_key_is_one_line(finished, tmp_path, capsys):
    names = tmp_path / "names.yaml"
    names.write_text("clip: CLIP\nclip: Clip\n")
    assert main(["table", "--results", str(finished), "--names", str(names)]) == 2
    err = capsys.readouterr().err
    assert "key 'clip' given twice" in err and len(err.strip().splitlines()) == 1


def test_study_status_and_a_run_with_nothing_to_do_change_no_file(tuned, capsys, monkeypatch):
    path, results = tuned
    before = listing(results)
    assert main(["study", "status", str(path), "--results", str(results)]) == 0
    assert main(["study", "run", str(path), "--results", str(results), "--jobs", "1"]) == 0
    assert "report up to date" in capsys.readouterr().out
    assert listing(results) == before  # the journals included


def test_a_moved_study_folder_is_resumed_reported_and_extended(tuned, tmp_path, capsys, monkeypatch):
    """No record holds the folder's path: after a move, nothing is redone and no setup 'differs'; a seed
    added to the file runs that seed's cell alone, with the same preset."""
    import bench.cell.execute

    path, results = tuned
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    os.system(f"cp -a {results} {moved}")
    trained = []
    real = bench.cell.execute.train
    monkeypatch.setattr(
        bench.cell.execute, "train", lambda spec, *a, **k: trained.append(spec) or real(spec, *a, **k)
    )
    assert main(["study", "status", str(path), "--results", str(moved)]) == 0
    assert "1 cells: 1 done" in capsys.readouterr().out
    assert main(["study", "run", str(path), "--results", str(moved), "--jobs", "1"]) == 0 and trained == []
    for f in moved.rglob("*.json"):
        assert str(results) not in f.read_text(), f
    wider = study_file(path.parent, "tiny", "[0, 1]")
    try:
        assert main(["study", "run", str(wider), "--results", str(moved), "--jobs", "1"]) == 0
    finally:
        study_file(path.parent)
    assert [s.seed for s in trained] == [1]  # the new seed alone, no trial
    out = capsys.readouterr().out
    assert "CLIP (tuned)" in out and "report → " in out


def test_a_truncated_journal_is_named_and_the_rest_reported(tuned, tmp_path, capsys):
    path, results = tuned
    copy = tmp_path / "results"
    os.system(f"cp -a {results} {copy}")
    journal = copy / "studies" / "tiny-clip-synthetic-r0.1.log"
    text = journal.read_text()
    journal.write_text(text[: len(text) // 2] + "\n" + text[len(text) // 2 :])  # a line cut in two
    before = listing(copy)
    assert main(["study", "status", str(path), "--results", str(copy)]) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and f"cannot read {journal}: not an optuna journal" in err, err
    assert "tuning tiny-clip-synthetic-r0.1: its journal cannot be read" in out and "1 cells: 1 done" in out
    assert main(["study", "run", str(path), "--results", str(copy), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "delete " in err and "Traceback" not in err, err
    assert listing(copy) == before


def test_two_study_runs_share_the_tuning_budget(tmp_path):
    """Two `study run`s of one study on one folder, at once: the budget's trials, not twice as many."""
    import subprocess
    import sys

    from bench.cell.spec import ROOT

    path, results = study_file(tmp_path, seeds="[0]").parent / "tiny.yaml", tmp_path / "results"
    path.write_text(path.read_text().replace("trials: 1", "trials: 2"))
    argv = [
        sys.executable,
        "-m",
        "bench",
        "study",
        "run",
        str(path),
        "--results",
        str(results),
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)
    ]
    codes = [p.wait(timeout=600) for p in procs]
    assert codes == [0, 0], [p.stderr.read() for p in procs]
    from bench.study.tuning import counts
    from bench.tune.study import StudyConfig

    cfg = StudyConfig.load(results, "tiny-clip-synthetic-r0.1")
    assert sum(counts(cfg).values()) == 2


def test_a_cell_left_by_a_sibling_that_died_is_a_failure(tmp_path, capsys, monkeypatch):
    """A cell another sweep held (busy) whose process then died unfinished: reported failed, exit 1."""
    from bench.cell import states, sweep

    real = sweep.execute

    def execute(folder, force=False):
        return states.BUSY if folder.spec().seed == 1 else real(folder, force=force)

    monkeypatch.setattr(sweep, "execute", execute)
    results = tmp_path / "results"
    assert main(fill([*GRID, "--seeds", "0,1", "--jobs", "1"], results, tmp_path)) == 1
    out, err = capsys.readouterr()
    assert "FAILED clip · synthetic · r=0.1 · split 0 · seed 1: the process that held it ended" in out
    assert "1 of 2 runs failed" in err


def test_released_vl_without_imagenet_weights_is_refused(tmp_path, capsys, monkeypatch):
    """Offline, preset=released never trains a random ResNet-34 under the released setup's spec."""
    import torchvision.models
    import vl_files

    def unavailable(weights=None):
        if weights is not None:
            raise RuntimeError("<urlopen error [Errno -3] Temporary failure in name resolution>")
        return real(weights=None)

    real = torchvision.models.resnet34
    monkeypatch.setattr(torchvision.models, "resnet34", unavailable)
    coco = vl_files.karpathy(tmp_path / "coco", "coco")
    results = tmp_path / "results"
    argv = [*BARE, "vl", "--task-param", "preset=released", "--task-param", f"source=local:{coco}"]
    argv += ["--task-param", "n_train=0"]  # the fixture's 5 train images: the preset's 15,040 are refused
    assert main(fill([*argv, "--task-param", "image_size=32", "--jobs", "1"], results, tmp_path)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "encoder=released needs ResNet-34's ImageNet weights" in err
    assert "set pretrained=none" in err and not results.exists()


def test_more_train_images_than_the_source_has_are_refused(tmp_path, capsys):
    """n_train above a local source's train split (here the released preset's 15,040 on 5 images) is one
    line naming the parameter, the split's size and the fix, exit 2, nothing written."""
    import vl_files

    coco = vl_files.karpathy(tmp_path / "coco", "coco")
    results = tmp_path / "results"
    argv = [*BARE, "vl", "--task-param", "preset=released", "--task-param", f"source=local:{coco}"]
    argv += ["--task-param", "pretrained=none"]
    assert main(fill([*argv, "--task-param", "image_size=32", "--jobs", "1"], results, tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: task vl: source=local:{coco}: n_train=15,040 but its train split has 5 images; "
        "set --task-param n_train=0 (every image) or at most 5"
    )
    assert not results.exists()
