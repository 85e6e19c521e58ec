"""The search space of a study: the declared ranges (Param low/high/log/choices) of a method and a task."""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError
from bench.params import Param
from bench.registry import Entry


def tunable(p: Param) -> bool:
    return p.choices is not None or (p.low is not None and p.high is not None)


def search_space(method: Entry, task: Entry, names: list[str] | None) -> dict[str, str]:
    """Name → owner ("method" or "task"). Default: every method parameter with a range; `names` may also
    pick task parameters with one (lr, encoder_lr)."""
    mine = {k: p for k, p in method.params.items() if k not in method.fixed}
    if names is None:
        space = {k: "method" for k, p in mine.items() if tunable(p)}
        if not space:
            raise BenchError(f"method {method.name} declares no parameter with a search range")
        return space
    space = {}
    for name in names:
        owner, p = ("method", mine[name]) if name in mine else ("task", task.params.get(name))
        if p is None or not tunable(p):
            ranged = ", ".join(sorted(k for k, q in {**mine, **task.params}.items() if tunable(q)))
            why = "unknown" if p is None else "without a search range"
            raise BenchError(f"--params {name}: {why} for {method.name} on {task.name}; tunable: {ranged}")
        space[name] = owner
    return space


def suggest(trial: Any, name: str, p: Param) -> Any:
    """The trial's value of one parameter, of the parameter's type."""
    if p.choices is not None:
        return trial.suggest_categorical(name, list(p.choices))
    if isinstance(p.default, int) and not isinstance(p.default, bool):
        return trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(name, p.low, p.high, log=p.log)
