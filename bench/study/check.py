"""The checks of a study file that need the results folder or a task: run by `study run` before any
tuning or cell starts, each mistake one line naming the file and the key.

- a method's `preset:` names a preset saved under <results>/presets/ (the study does not tune it);
- `report.metric` is a metric every task of the study reports on its test items: the task's primary
  metric, one a done run of the task in the results recorded, or else one an untrained model of the
  task's cell of the first method (its defaults), ratio and seeds is scored on (its data loaded once).
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import BenchError
from bench.study.file import Study
from bench.tune.preset import preset_path


def check_presets(study: Study, results: Path) -> None:
    for method in study.methods:
        if method.preset is None or preset_path(results, method.preset).is_file():
            continue
        path = preset_path(results, method.preset)
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
        raise BenchError(
            f"study {study.path}: methods.{method.name}.preset: no {path}; known presets: {known} "
            "(save one with `python -m bench tune`, or drop the key to run the method's defaults)"
        )


def check_report_metric(study: Study, results: Path) -> None:
    from bench import registry
    from bench.study.plan import specs

    metric = study.report.metric
    if metric is None:
        return
    for task in study.tasks:
        if metric == registry.tasks().get(task.name).cls.primary_metric:
            continue
        known = recorded_metrics(results, task.name)
        if metric in known:
            continue
        known |= set(untrained_metrics(specs(study, study.methods[0], task, None, results)[0]))
        if metric not in known:
            shown = ", ".join(sorted(k for k in known if not k.startswith("val_")))
            raise BenchError(
                f"study {study.path}: report.metric: task {task.name} reports no metric {metric!r}; "
                f"its metrics: {shown}"
            )


def recorded_metrics(results: Path, task: str) -> set[str]:
    """The metric names of the done runs of `task` under `results`."""
    from bench.atomic import CorruptFile
    from bench.cell.states import DONE
    from bench.cell.store import Store

    out: set[str] = set()
    for folder in Store(results).all_folders():
        try:
            if folder.spec().task == task and folder.state() == DONE:
                out |= set(folder.metrics())
        except CorruptFile:
            continue
    return out


def untrained_metrics(spec) -> list[str]:
    """The test metrics of an untrained model of the cell `spec`, built as its run builds it."""
    import torch

    from bench.cell.execute import load_task
    from bench.engine.split import make_split
    from bench.engine.train import build_model
    from bench.registry import methods

    hp = spec.task_params
    task, data, _ = load_task(spec)
    split = make_split(len(data), spec.pair_ratio, spec.split_seed, hp["unpaired"], hp["val_fraction"])
    method = methods().get(spec.method).create(spec.method_params)
    with torch.random.fork_rng():
        torch.manual_seed(spec.seed)
        model = build_model(task, method, data, hp).eval()
        with torch.no_grad():
            return sorted(task.evaluate(model, data, split.paired))
