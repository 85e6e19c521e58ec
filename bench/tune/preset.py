"""Presets: a study's best parameters under `<results>/presets/<name>.json`, used by
`python -m bench run --method-param preset=NAME` (explicit --method-param/--task-param values win).

A preset also records the task parameters its study held fixed (steps, batch_size, n_train, ...): tuned
values hold for that setup only. `run` applies them where it gives none, and refuses a run that gives
other values (a temperature tuned at steps=50 used at steps=600) unless `preset_override=true`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import atomic
from bench.errors import BenchError


def preset_path(results: Path, name: str) -> Path:
    return results / "presets" / f"{name}.json"


# task parameters a study sets for its own sake, which do not change what a run computes
TUNING_ONLY = ("val_fraction", "eval_every", "checkpoint_every")
OVERRIDE = "preset_override"


def fixed_task_params(cfg: Any) -> dict[str, Any]:
    """The task parameters the study's trials all had (defaults included), but the tuned and TUNING_ONLY."""
    from bench.tune.study import trial_spec

    params = trial_spec(cfg, {}).task_params
    return {k: v for k, v in params.items() if k not in TUNING_ONLY and cfg.space.get(k) != "task"}


def save_preset(results: Path, name: str, cfg: Any, trial: Any) -> Path:
    """Write the best trial's parameters, split by owner, with where they came from and the task
    parameters they were tuned at."""
    owned = {"method": {}, "task": {}}
    for key, value in trial.params.items():
        owned[cfg.space[key]][key] = value
    fixed = fixed_task_params(cfg)
    path = preset_path(results, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(
        path,
        {
            "study": cfg.name,
            "method": cfg.method,
            "task": cfg.task,
            "pair_ratio": cfg.pair_ratio,
            "metric": f"val_{cfg.metric}",
            "value": trial.value,
            "trial": trial.number,
            "run_id": trial.user_attrs.get("run_id"),
            "method_params": owned["method"],
            "task_params": owned["task"],
            "fixed_task_params": fixed,
        },
    )
    return path


def text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def apply_preset(
    method_raw: dict[str, str], task_raw: dict[str, str], tasks: list[str], results: Path
) -> None:
    """Replace `preset=NAME` in the raw --method-param values by the preset's `method.k=v` (and, when its
    task is selected, its tuned task parameters and those its study held fixed as `task.k=v`); values
    given explicitly stay. A fixed task parameter the run gives another value is a BenchError naming
    them, unless `preset_override=true`."""
    override = method_raw.pop(OVERRIDE, None)
    name = method_raw.pop("preset", None)
    if name is None:
        if override is not None:
            raise BenchError(f"--method-param {OVERRIDE}={override}: it goes with --method-param preset=NAME")
        return
    accept = override_flag(override)
    path = preset_path(results, name)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
        raise BenchError(f"--method-param preset={name}: no {path}; known presets: {known}")
    preset = atomic.read_json(path)
    method, task = preset["method"], preset["task"]
    for key, value in preset["method_params"].items():
        if key not in method_raw:
            method_raw.setdefault(f"{method}.{key}", text(value))
    if task not in tasks:
        return
    for key, value in preset["task_params"].items():
        if key not in task_raw:
            task_raw.setdefault(f"{task}.{key}", text(value))
    differ = fixed_differences(preset.get("fixed_task_params", {}), task, task_raw)
    if differ and not accept:
        tuned = ", ".join(f"{k}={text(old)}" for k, old, _ in differ)
        given = ", ".join(f"{k}={text(new)}" for k, _, new in differ)
        flags = " ".join(f"--task-param {k}={text(old)}" for k, old, _ in differ)
        raise BenchError(
            f"--method-param preset={name}: tuned on {task} with {tuned}, but this run gives {given}; "
            f"run as tuned ({flags}, or leave them out), or add --method-param {OVERRIDE}=true to use yours"
        )


def override_flag(value: str | None) -> bool:
    if value is None or value.lower() in ("false", "no", "0"):
        return False
    if value.lower() in ("true", "yes", "1"):
        return True
    raise BenchError(f"--method-param {OVERRIDE}={value}: write true or false")


def fixed_differences(fixed: dict[str, Any], task: str, task_raw: dict[str, str]) -> list[tuple]:
    """(name, preset value, run value) for each fixed parameter the run gives another value; the others
    are added to `task_raw` as `task.k=v`, so that the run has the setup the preset was tuned at."""
    from bench import registry

    entry = registry.tasks().get(task)
    differ, applied = [], []
    for key, value in fixed.items():
        if key not in entry.params or key in entry.fixed:
            continue  # a parameter the task no longer lets be set
        given = task_raw.get(f"{task}.{key}", task_raw.get(key))
        if given is None:
            task_raw[f"{task}.{key}"] = text(value)
            if value != entry.params[key].default:
                applied.append(f"{key}={text(value)}")
        elif (run_value := entry.params[key].parse(key, given)) != value:
            differ.append((key, value, run_value))
    if applied and not differ:
        print(f"preset: {task} runs as its study did: {', '.join(applied)}")
    return differ
