"""Every parameter is checked before anything is written: valid ranges, seeds, and cells that would
train on nothing they were asked for."""

import math

import pytest
import torch

from bench import registry
from bench.cell.grid import TRAIN_SEED_END
from bench.cli.main import main
from bench.errors import BenchError
from bench.params import Interval, Param
from bench.seeds import generator_seeds


def _entries():
    for reg in (registry.methods(), registry.tasks()):
        for name, entry in reg.entries.items():
            yield f"{reg.kind} {name}", entry


@pytest.mark.parametrize("owner, entry", list(_entries()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_numeric_parameter_declares_a_valid_range_holding_its_default(owner, entry):
    for name, param in entry.params.items():
        if type(param.default) not in (int, float):
            continue
        assert param.interval is not None, f"{owner}: {name} declares no valid range"
        assert param.default in param.interval, (
            f"{owner}: default {name}={param.default} outside {param.valid}"
        )
        for end in (param.low, param.high):  # the tuning space lies inside the valid range
            assert end is None or end in param.interval, f"{owner}: {name} tunes outside {param.valid}"


def test_interval_ends_and_non_finite_values():
    closed_open = Interval.parse("[0, 1)")
    assert 0 in closed_open and 0.5 in closed_open and 1 not in closed_open and -1e-9 not in closed_open
    positive = Interval.parse("(0, inf)")
    assert 1e-300 in positive and 0.0 not in positive
    assert math.inf not in positive and math.nan not in positive
    assert 2**70 in Interval.parse("[0, inf)") and 2**63 - 1 in Interval.parse("[0, 2^63)")
    assert 2**63 not in Interval.parse("[0, 2^63)")
    for bad in ("0, 1", "[0; 1]", "[1, 0]", "[a, 1]"):
        with pytest.raises(ValueError):
            Interval.parse(bad)


def test_a_value_outside_the_range_names_owner_parameter_value_and_range():
    param = Param(0.1, "dropout", valid="[0, 1)")
    assert param.parse("p", "0", "task t") == 0.0
    with pytest.raises(BenchError, match=r"^task t: parameter p=1\.5 is outside its valid range \[0, 1\)$"):
        param.parse("p", "1.5", "task t")


SYN = ["--methods", "clip", "--tasks", "synthetic"]
CASES = [
    (["--task-param", "steps=-5"], "task synthetic: parameter steps=-5 is outside its valid range [1, inf)"),
    (["--task-param", "batch_size=0"], "parameter batch_size=0 is outside its valid range [2, inf)"),
    (["--task-param", "lr=-1"], "parameter lr=-1.0 is outside its valid range (0, inf)"),
    (
        ["--task-param", "paired_fraction=1.5"],
        "parameter paired_fraction=1.5 is outside its valid range [0, 1]",
    ),
    (["--task-param", "val_fraction=1"], "parameter val_fraction=1.0 is outside its valid range [0, 1)"),
    (["--task-param", "embed_dim=0"], "parameter embed_dim=0 is outside its valid range [1, inf)"),
    (["--method-param", "temperature=0"], "method clip: parameter temperature=0.0 is outside"),
    (["--task-param", "head_dropout=1.5"], "parameter head_dropout=1.5 is outside its valid range [0, 1)"),
    (["--task-param", "n_test=0"], "parameter n_test=0 is outside its valid range [1, inf)"),
    (["--task-param", "data_seed=-1"], "parameter data_seed=-1 is outside its valid range [0, 2^63)"),
    (["--seeds", "12345678901234567890"], "--seeds 12345678901234567890: a train seed must be in [0, "),
    (["--seeds", "-1"], "--seeds -1: a train seed must be in"),
    (["--split-seed", str(2**63)], f"--split-seed {2**63}: a split seed must be in"),
    (
        ["--task-param", "n_train=5", "--pair-ratio", "0.01"],
        "r=0.01 · split 0 · seed 0: r = 0.01 of 5 train items gives round(0.05) = 0 pairs",
    ),
    (
        ["--task-param", "n_train=4", "--task-param", "val_fraction=0.1"],
        "val_fraction=0.1 of 4 train items holds out round(0.4) = 0 items",
    ),
    (
        ["--methods", "gentle_clip", "--pair-ratio", "0", "--task-param", "n_train=2"]
        + ["--task-param", "val_fraction=0.5", "--task-param", "unpaired=disjoint"],
        "r = 0 and 0/1 unpaired A/B items of 1: gentle_clip has nothing to train on",
    ),
    (["--methods", "gentle_clip", "--method-param", "w_sdd=nan"], "parameter w_sdd=nan is outside its"),
    (["--methods", "gentle_clip", "--method-param", "w_mmd=inf"], "parameter w_mmd=inf is outside its"),
    (
        ["--methods", "s_clip", "--method-param", "sinkhorn_iters=0"],
        "method s_clip: parameter sinkhorn_iters=0",
    ),
    (["--methods", "asif", "--method-param", "k=-1"], "method asif: parameter k=-1 is outside its valid"),
    (
        ["--methods", "asif", "--method-param", "k_fraction=0"],
        "method asif: parameter k_fraction=0.0 is outside its valid range",
    ),
    (["--methods", "cca", "--method-param", "features=raw"], "method cca: parameter features"),
    (
        ["--methods", "asif", "--method-param", "p=0"],
        "method asif: parameter p=0.0 is outside its valid range",
    ),
    (["--methods", "cca", "--method-param", "dim=-1"], "method cca: parameter dim=-1 is outside"),
    (
        ["--methods", "cca", "--method-param", "ridge=1"],
        "parameter ridge=1.0 is outside its valid range [0, 1)",
    ),
    (["--methods", "sotalign", "--method-param", "w_klot=-1"], "parameter w_klot=-1.0 is outside"),
    (["--methods", "sotalign", "--method-param", "eps_student=0"], "parameter eps_student=0.0 is outside"),
    (["--methods", "sotalign", "--method-param", "teacher_ridge=-0.1"], "teacher_ridge=-0.1 is outside"),
    (["--tasks", "vl", "--task-param", "text_dropout=1"], "task vl: parameter text_dropout=1.0 is outside"),
    (["--tasks", "vl", "--task-param", "view_seed=-1"], "task vl: parameter view_seed=-1 is outside"),
    (
        ["--tasks", "vl", "--task-param", "mode=frozen", "--task-param", "encoder=released"]
        + ["--task-param", "n_views=1"],
        "task vl: n_views must be at least 2 in frozen mode",
    ),
]


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("extra, message", CASES, ids=[c[1][:40] for c in CASES])
def test_refused_in_one_line_exit_2_nothing_written(extra, message, dry, results, capsys):
    results.mkdir()
    (results / "kept.txt").write_text("there before")
    before = _tree(results)
    argv = ["run", *SYN, "--results", str(results), *extra, *(["--dry-run"] if dry else [])]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert _tree(results) == before


@pytest.mark.parametrize(
    "extra",
    [
        ["--task-param", "n_train=5", "--pair-ratio", "0.01", "--task-param", "allow_empty=true"],
        ["--task-param", "n_train=5", "--pair-ratio", "0"],  # r = 0: clip reports its untrained model
        ["--seeds", str(TRAIN_SEED_END - 1), "--split-seed", str(2**63 - 1)],
        ["--task-param", "steps=1", "--task-param", "batch_size=2", "--task-param", "paired_fraction=1"],
    ],
)
def test_edge_values_and_the_opt_in_pass(extra, results, capsys):
    assert main(["run", *SYN, "--results", str(results), "--dry-run", *extra]) == 0, capsys.readouterr().err


def test_the_largest_train_seed_fits_every_generator_and_the_next_does_not():
    for seed in generator_seeds(TRAIN_SEED_END - 1):
        torch.Generator().manual_seed(seed)
    assert max(generator_seeds(TRAIN_SEED_END)) >= 2**63


def test_an_unknown_pool_size_is_refused_by_the_engine_before_the_first_step(results, monkeypatch, capsys):
    from tasks.synthetic import Synthetic

    monkeypatch.setattr(Synthetic, "pool_size", lambda self: None)
    argv = ["run", *SYN, "--results", str(results), "--seeds", "0", "--jobs", "1", "--pair-ratio", "0.01"]
    code = main([*argv, "--task-param", "n_train=5", "--task-param", "checkpoint_every=0"])
    capsys.readouterr()
    assert code == 1
    (folder,) = (results / "runs").iterdir()
    status = (folder / "status.json").read_text()
    assert "r = 0.01 of 5 train items gives round(0.05) = 0 pairs" in status and '"failed"' in status
    assert not (folder / "split.json").exists() and not (folder / "metrics.json").exists()
