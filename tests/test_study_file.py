"""Study files: every mistake is one line naming the file and the key, exit 2, nothing written; the seed
pairing; studies/paper.yaml and studies/smoke.yaml as written, parsed and expanded (not run)."""

from pathlib import Path

import pytest
import yaml

from bench import registry
from bench.cell.grid import inapplicable
from bench.cell.spec import ROOT
from bench.cli.main import main
from bench.study.file import load_study
from bench.study.plan import DEFAULTS, plan_study, tune_configs
from bench.tune.space import tunable

GOOD = {
    "tasks": {"synthetic": {"params": {"steps": 10}}},
    "methods": ["clip"],
    "pair_ratios": [0.1],
}

# (change to GOOD, the key the message names, what it says)
BAD = [
    ({"seed": [0]}, ": seed: unknown key (did you mean seeds", "known: description"),
    ({"tasks": {"synthetic": {"param": {}}}}, "tasks.synthetic.param: unknown key (did you mean params", ""),
    ({"tasks": {"synthetc": None}}, "tasks.synthetc: unknown task 'synthetc' (did you mean synthetic?)", ""),
    ({"methods": ["clip", "gentle_clp"]}, "methods.gentle_clp: unknown method 'gentle_clp'", "gentle_clip"),
    (
        {"methods": {"clip": {"params": {"temprature": 0.1}}}},
        "methods.clip.params: unknown parameter",
        "temperature",
    ),
    (
        {"methods": {"clip": {"params": {"temperature": -1}}}},
        "methods.clip.params: method clip: parameter",
        "valid range",
    ),
    (
        {"tasks": {"synthetic": {"params": {"steps": 0}}}},
        "tasks.synthetic.params: task synthetic: parameter steps=0",
        "",
    ),
    ({"methods": "some"}, "methods: expected all, a list of names", ""),
    ({"pair_ratios": [0.1, 1.5]}, "pair_ratios[1]: expected a pair ratio in [0, 1], got 1.5", ""),
    ({"pair_ratios": [0.1, 0.1]}, "pair_ratios: [0.1, 0.1] repeats an item", ""),
    ({"seeds": [0, -1]}, "seeds[1]: expected an integer >= 0, got -1", ""),
    ({"seeds": [0, 1], "split_seeds": [0]}, "split_seeds: 1 split seeds for 2 seeds", ""),
    ({"split_seeds": "different"}, "split_seeds: expected same, a seed or a list", ""),
    ({"tune": {"trials": 0, "pair_ratio": 0.05}}, "tune.trials: expected an integer >= 1, got 0", ""),
    ({"tune": {"trials": 2}}, "tune.pair_ratio: missing", ""),
    (
        {"tune": {"trials": 2, "pair_ratio": 0.05, "default": True}},
        "tune.default: unknown key (did you mean defaults",
        "",
    ),
    (
        {"tune": {"trials": 2, "pair_ratio": 0.05, "val_fraction": 1}},
        "tune.val_fraction: expected a share in (0, 1)",
        "",
    ),
    (
        {"report": {"tables": ["ratio", "abalation"]}},
        "report.tables: unknown 'abalation' (did you mean ablation",
        "",
    ),
    ({"report": {"spread": "sem"}}, "report.spread: unknown 'sem'; choose from std, ci", ""),
    ({"pair_ratios": None}, "pair_ratios: expected a non-empty list, got nothing", ""),
    (
        {"methods": {"clip": {"params": {"steps": 10}}}},
        "methods.clip.params.steps: steps is a task parameter: put it under tasks.NAME.params",
        "",
    ),
    ({"seeds": [0, 2**62]}, f"seeds[1]: {2**62} is not a train seed in [0, ", "3·seed + 2"),
    (
        {"tasks": {"synthetic": {"params": {"n_train": 5}}}, "tune": {"trials": 1, "pair_ratio": 0.01}},
        "tune: clip · synthetic · r=0.01 · split 0 · seed 0: r = 0.01 of 4 train items gives",
        "= 0 pairs",
    ),
    (
        {"tune": {"trials": 1, "pair_ratio": 0.1, "seed": 2**62}},
        f"tune.seed: {2**62} is not a train seed",
        "",
    ),
]


def write(tmp_path: Path, data, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def refused(tmp_path, capsys, path: Path, *, action="run") -> str:
    """Run `study ACTION path` and check: exit 2, one line on stderr, nothing written; that line."""
    results = tmp_path / "results"
    before = sorted(tmp_path.rglob("*"))
    assert main(["study", action, str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: study {path}"), err
    assert sorted(tmp_path.rglob("*")) == before and not results.exists()
    return err[0]


@pytest.mark.parametrize("change, says, also", BAD, ids=[b[1].split(":")[0] or "top" for b in BAD])
def test_a_mistake_is_one_line_naming_the_file_and_the_key(change, says, also, tmp_path, capsys):
    line = refused(tmp_path, capsys, write(tmp_path, {**GOOD, **change}))
    assert says in line and also in line, line


def test_a_missing_or_malformed_file_is_one_line(tmp_path, capsys):
    assert refused(tmp_path, capsys, tmp_path / "none.yaml").endswith("none.yaml: no such file")
    assert "malformed YAML at line 2" in refused(tmp_path, capsys, write(tmp_path, "tasks: [a\nmethods: ]"))
    assert "expected a mapping" in refused(tmp_path, capsys, write(tmp_path, "- a\n"), action="status")
    assert "tasks: missing" in refused(tmp_path, capsys, write(tmp_path, {"methods": ["clip"]}))


def test_a_tuning_metric_the_task_does_not_report_is_refused_before_anything_runs(tmp_path, capsys):
    data = {**GOOD, "tune": {"trials": 1, "pair_ratio": 0.1, "metric": "nosuch"}}
    line = refused(tmp_path, capsys, write(tmp_path, data))
    assert ": tune: --metric nosuch: task synthetic reports no such validation metric" in line, line


def test_each_seed_its_own_split_seed_or_one_for_all_or_pairs(tmp_path):
    data = {
        **GOOD,
        "seeds": [3, 4],
        "split_seeds": "same",
        "tasks": {"synthetic": None, "protein": {"seeds": [0, 1, 2], "split_seeds": [7, 8, 9]}},
    }
    study = load_study(write(tmp_path, data))
    assert [t.pairs for t in study.tasks] == [((3, 3), (4, 4)), ((7, 0), (8, 1), (9, 2))]
    assert load_study(write(tmp_path, {**GOOD, "seeds": [1, 2]})).tasks[0].pairs == ((0, 1), (0, 2))
    cells = plan_study(load_study(write(tmp_path, {**data, "tasks": ["synthetic"]})), tmp_path).cells
    assert sorted((c.spec.split_seed, c.spec.seed) for c in cells) == [(3, 3), (4, 4)]


def has_range(method: str) -> bool:
    """Whether `method` has a parameter with a search range that it does not fix."""
    entry = registry.methods().get(method)
    return any(tunable(p) for k, p in entry.params.items() if k not in entry.fixed)


def test_the_paper_study_as_the_issue_asks(tmp_path, capsys):
    study = load_study(ROOT / "studies" / "paper.yaml")
    every = registry.methods().names()
    assert [m.name for m in study.methods] == every and [t.name for t in study.tasks] == [
        "synthetic",
        "protein",
    ]
    assert study.ratios == (0, 0.01, 0.05, 0.1, 0.25, 1)
    assert [t.pairs for t in study.tasks] == [
        tuple((s, s) for s in range(5)),
        tuple((s, s) for s in range(3)),
    ]
    tuning = study.tuning
    assert tuning.trials >= 10 and tuning.pair_ratio == 0.05 and tuning.defaults
    tasks = registry.tasks()
    applies = {  # a method that does not apply to a task (Method.requires: semiclip) is left out of it
        t: [
            m
            for m in every
            if inapplicable(registry.methods().get(m), tasks.get(t).create(tasks.get(t).resolve({}))) is None
        ]
        for t in ("synthetic", "protein")
    }
    assert "structure" in applies["synthetic"] and "semiclip" not in applies["synthetic"] + applies["protein"]
    configs = tune_configs(study, tmp_path)
    assert {(c.method, c.task) for c in configs} == {
        (m, t) for t in ("synthetic", "protein") for m in applies[t] if has_range(m)
    }  # a form that fixes every ranged parameter (a method as released) has nothing to tune
    assert {c.pair_ratio for c in configs} == {0.05} and {c.task_params["val_fraction"] for c in configs} == {
        "0.2"
    }
    p = plan_study(study, tmp_path)  # before tuning: the defaults cells, and the tuned ones waiting
    assert len(p.cells) == 6 * (len(applies["synthetic"]) * 5 + len(applies["protein"]) * 3)
    assert {c.setting for c in p.cells} == {DEFAULTS}
    assert len(p.waiting) == len(configs)
    assert p.left_out == [  # named, with why, in `study status` and the report
        f"semiclip on {t} (needs keywords (a vocabulary of concepts in the B texts): task {t} has none)"
        for t in ("synthetic", "protein")
    ]
    assert main(["study", "status", str(ROOT / "studies" / "paper.yaml"), "--results", str(tmp_path)]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("left out")]
    assert shown == [f"left out, as it does not apply: {w}" for w in p.left_out]
    assert not list(tmp_path.iterdir()), "planning wrote something"


def test_the_smoke_study_is_small():
    study = load_study(ROOT / "studies" / "smoke.yaml")
    assert [t.name for t in study.tasks] == ["synthetic"] and len(study.methods) == 2
    assert len(study.ratios) == 2 and len(study.tasks[0].pairs) <= 2 and study.tuning.trials == 2
