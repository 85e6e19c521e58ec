"""Expand the CLI's choices into RunSpecs: methods × tasks × pair ratios × seeds.

`--method-param k=v` applies to every selected method that declares `k` (an error when none
does); `--method-param gentle_clip.k=v` to that method alone. The same holds for task parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bench import registry
from bench.errors import BenchError
from bench.registry import Entry, Registry
from bench.spec import RunSpec


@dataclass(frozen=True)
class Grid:
    methods: list[str]
    tasks: list[str]
    ratios: list[float]
    seeds: list[int]
    split_seed: int = 0
    method_params: dict[str, str] = field(default_factory=dict)
    task_params: dict[str, str] = field(default_factory=dict)


def parse_names(text: str, reg: Registry) -> list[str]:
    """'all' or a comma list of registered names (each checked)."""
    if text.strip() == "all":
        return reg.names()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise BenchError(f"no {reg.kind} given: name one or more, e.g. --{reg.kind}s {reg.names()[0]}")
    return [reg.get(n).name for n in dict.fromkeys(names)]


def parse_ratios(text: str) -> list[float]:
    out = []
    for item in text.split(","):
        try:
            r = float(item)
        except ValueError:
            raise BenchError(
                f"pair ratio {item!r} is not a number; give values in [0, 1], e.g. 0.05,0.1"
            ) from None
        if not 0.0 <= r <= 1.0:
            raise BenchError(
                f"pair ratio {r:g} is outside [0, 1]; it is the share of train items that keep their pair"
            )
        out.append(r)
    return list(dict.fromkeys(out))


def parse_ints(text: str, flag: str) -> list[int]:
    """A comma list of distinct integers (seeds, batch sizes), in the order given."""
    out = []
    for item in text.split(","):
        try:
            out.append(int(item))
        except ValueError:
            raise BenchError(f"{flag}: {item!r} is not an integer; write e.g. {flag} 0,1,2") from None
    return list(dict.fromkeys(out))


def _params_for(entry: Entry, raw: dict[str, str]) -> dict:
    """The raw values of `raw` that reach `entry` (scoped to it, or unscoped and settable), resolved."""
    mine = {}
    for key, value in raw.items():
        owner, dot, name = key.rpartition(".")
        if dot:
            if owner == entry.name:
                mine[name] = value
        elif name in entry.params and name not in entry.fixed:
            mine[name] = value
    return entry.resolve(mine)


def _check_applies(reg: Registry, raw: dict[str, str], selected: list[str], flag: str) -> None:
    for key in raw:
        owner, dot, name = key.rpartition(".")
        if dot:
            if owner not in selected:
                raise BenchError(
                    f"{flag} {key}: {reg.kind} {owner!r} is not among the selected: {', '.join(selected)}"
                )
            reg.get(owner).resolve({name: raw[key]})
        elif not any(name in reg.get(s).params and name not in reg.get(s).fixed for s in selected):
            reg.get(selected[0]).resolve({name: raw[key]})  # raises: unknown, with hints
            raise BenchError(f"{flag} {key}: no selected {reg.kind} lets {name} be set")


def expand(grid: Grid) -> list[RunSpec]:
    """Every cell of the grid, in a stable order (task, method, ratio, seed); bad input raises BenchError."""
    methods, tasks = registry.methods(), registry.tasks()
    _check_applies(methods, grid.method_params, grid.methods, "--method-param")
    _check_applies(tasks, grid.task_params, grid.tasks, "--task-param")
    mparams = {m: _params_for(methods.get(m), grid.method_params) for m in grid.methods}
    tparams = {t: _params_for(tasks.get(t), grid.task_params) for t in grid.tasks}
    return [
        RunSpec(m, t, r, grid.split_seed, s, mparams[m], tparams[t])
        for t, m, r, s in itertools.product(grid.tasks, grid.methods, grid.ratios, grid.seeds)
    ]
