"""A study's tuning studies and its cells.

Each (method, task) is tuned when the file has `tune` and the method has a search range left once the
file's own parameters are fixed; its preset is the tuning study's name, `STUDY-METHOD-TASK-rRATIO`. A cell
belongs to a setting: `tuned` (with the preset, or the file's `preset`), `defaults` (the method's published
defaults with the file's parameters: run when `tune.defaults` is true, and for methods with nothing to tune)
or "" (a study without tuning). A cell of two settings (nothing tuned) counts once, as `defaults`. A method
that does not apply to a task (`applies`) has neither tuning nor cells there.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench import registry
from bench.cell.grid import Grid, expand, inapplicable
from bench.cell.spec import RunSpec
from bench.errors import BenchError
from bench.study.file import MethodSetting, Study, TaskSetting
from bench.tune.preset import apply_preset, preset_path

TUNED, DEFAULTS = "tuned", "defaults"


@dataclass(frozen=True)
class StudyCell:
    spec: RunSpec
    setting: str


@dataclass(frozen=True)
class Plan:
    cells: list[StudyCell]
    waiting: list[str]  # "method on task": tuned cells that need their preset (tuning not finished)
    left_out: list[str]  # "method on task (why)": methods that do not apply to a task (`applies`)


def tuned_names(study: Study, method: MethodSetting, task: TaskSetting) -> list[str]:
    """The parameters the study tunes for `method` on `task`: its ranged ones the file does not fix."""
    from bench.tune.space import search_space

    if study.tuning is None or method.preset is not None:
        return []
    m, t = registry.methods().get(method.name), registry.tasks().get(task.name)
    try:
        space = search_space(m, t, None)
    except BenchError:  # a method that declares no range (its published form has nothing to tune)
        return []
    return [k for k in space if k not in method.params]


def applies(method: MethodSetting, task: TaskSetting) -> bool:
    """Whether the study runs `method` on `task`: a method that does not apply to a task (bench.cell.grid
    `inapplicable`, e.g. semiclip on a task without concepts) is left out of that task."""
    return why_not(method, task) is None


def why_not(method: MethodSetting, task: TaskSetting) -> str | None:
    """Why `method` does not apply to `task` (bench.cell.grid `inapplicable`), or None."""
    entry, task_entry = registry.methods().get(method.name), registry.tasks().get(task.name)
    return inapplicable(entry, task_entry.create(task_entry.resolve(dict(task.params))))


def tune_name(study: Study, method: str, task: str) -> str:
    return f"{study.name}-{method}-{task}-r{study.tuning.pair_ratio:g}"


def tune_configs(study: Study, results: Path) -> list:
    """The StudyConfig of every (method, task) the study tunes, as `tune` would make it."""
    from bench.cli.tune import study_config

    out = []
    for task in study.tasks:
        for method in study.methods:
            names = tuned_names(study, method, task) if applies(method, task) else []
            if not names:
                continue
            t = study.tuning
            args = argparse.Namespace(
                task=task.name,
                pair_ratio=repr(t.pair_ratio),
                params=",".join(names),
                method_param=[f"{k}={v}" for k, v in method.params.items()],
                task_param=[f"{k}={v}" for k, v in task.params.items()] + [f"val_fraction={t.val_fraction}"],
                metric=t.metric,
                study=tune_name(study, method.name, task.name),
                storage=None,
                split_seed=t.split_seed,
                seed=t.seed,
            )
            out.append(in_file(study, partial(study_config, args, method.name, results, False)))
    return out


def in_file(study: Study, make):
    """`make()`, its BenchError said as a mistake of the study file."""
    try:
        return make()
    except BenchError as err:
        raise BenchError(f"study {study.path}: {err}") from None


def settings(study: Study, method: MethodSetting, task: TaskSetting) -> list[tuple[str, str | None]]:
    """(setting, preset) of each setting `method` runs in on `task`."""
    if study.tuning is None:
        return [("", method.preset)]
    preset = method.preset or (
        tune_name(study, method.name, task.name) if tuned_names(study, method, task) else None
    )
    if preset is None:
        return [(DEFAULTS, None)]
    return [(TUNED, preset)] + ([(DEFAULTS, None)] if study.tuning.defaults else [])


def plan_study(study: Study, results: Path) -> Plan:
    """Every cell of the study whose preset exists; which tuned cells wait for their tuning; and which
    methods it leaves out of a task they do not apply to."""
    cells: dict[str, StudyCell] = {}
    waiting, left_out = [], []
    for task in study.tasks:
        for method in study.methods:
            if why := why_not(method, task):
                left_out.append(f"{method.name} on {task.name} ({why.removeprefix(method.name + ' ')})")
                continue
            for setting, preset in settings(study, method, task):
                if preset is not None and not preset_path(results, preset).is_file():
                    waiting.append(f"{method.name} on {task.name} ({preset})")
                    continue
                for spec in in_file(study, partial(specs, study, method, task, preset, results)):
                    if spec.run_id() not in cells or setting == DEFAULTS:  # a cell of both is `defaults`
                        cells[spec.run_id()] = StudyCell(spec, setting)
    return Plan(list(cells.values()), waiting, left_out)


def specs(study: Study, method: MethodSetting, task: TaskSetting, preset: str | None, results: Path) -> list:
    """The cells of `method` on `task` over the ratios and (split seed, seed) pairs, with `preset`."""
    method_raw = dict(method.params) | ({"preset": preset} if preset else {})
    task_raw = dict(task.params)
    apply_preset(method_raw, task_raw, [task.name], results)
    by_split: dict[int, list[int]] = {}
    for split, seed in task.pairs:
        by_split.setdefault(split, []).append(seed)
    out = []
    for split, seeds in by_split.items():
        grid = Grid([method.name], [task.name], list(study.ratios), seeds, split, method_raw, task_raw)
        out += expand(grid)
    return out
