"""Presets: a study's best parameters under `<results>/presets/<name>.json`, used by
`python -m bench run --method-param preset=NAME` (explicit --method-param/--task-param values win)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import atomic
from bench.errors import BenchError


def preset_path(results: Path, name: str) -> Path:
    return results / "presets" / f"{name}.json"


def save_preset(results: Path, name: str, cfg: Any, trial: Any) -> Path:
    """Write the best trial's parameters, split by owner, with where they came from."""
    owned = {"method": {}, "task": {}}
    for key, value in trial.params.items():
        owned[cfg.space[key]][key] = value
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
        },
    )
    return path


def text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def apply_preset(
    method_raw: dict[str, str], task_raw: dict[str, str], tasks: list[str], results: Path
) -> None:
    """Replace `preset=NAME` in the raw --method-param values by the preset's `method.k=v` (and its tuned
    task parameters as `task.k=v` when that task is selected); values given explicitly stay."""
    name = method_raw.pop("preset", None)
    if name is None:
        return
    path = preset_path(results, name)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
        raise BenchError(f"--method-param preset={name}: no {path}; known presets: {known}")
    preset = atomic.read_json(path)
    method, task = preset["method"], preset["task"]
    for key, value in preset["method_params"].items():
        if key not in method_raw:
            method_raw.setdefault(f"{method}.{key}", text(value))
    if task in tasks:
        for key, value in preset["task_params"].items():
            if key not in task_raw:
                task_raw.setdefault(f"{task}.{key}", text(value))
