"""Expand the CLI's choices into RunSpecs: methods × tasks × pair ratios × seeds.

`--method-param k=v` applies to every selected method that declares `k` (an error when none
does); `--method-param gentle_clip.k=v` to that method alone. The same holds for task parameters.

Every check happens here, before any folder is made: each parameter within its valid range
(`Param.valid`), each task's rules (`Task.check`), seeds that the generators take (with the seeds the
engine derives from them), and no cell that would train on nothing it was asked for
(`bench.cell.rules.empty_cell`, when the task knows its pool size without loading: `Task.pool_size`;
else the engine refuses such a cell at set-up). Task parameter allow_empty=true lets such a cell run. A method
that does not apply to a task (`Method.requires`, `Task.provides`) is refused there, or left out with
`--methods all` (`left_out` names those pairs in one line). A method that reads its task's frozen features
is refused where the task cannot serve them (`check_frozen`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bench import registry
from bench.cell.spec import RunSpec
from bench.errors import BenchError
from bench.params import SEEDS, Interval
from bench.registry import Entry, Registry


@dataclass(frozen=True)
class Grid:
    """The cells asked for. `skip_inapplicable` (`--methods all`): a method that does not apply to a task
    (`inapplicable`) is left out of that task's cells; otherwise such a pair is refused."""

    methods: list[str]
    tasks: list[str]
    ratios: list[float]
    seeds: list[int]
    split_seed: int = 0
    method_params: dict[str, str] = field(default_factory=dict)
    task_params: dict[str, str] = field(default_factory=dict)
    skip_inapplicable: bool = False


def inapplicable(method: Entry, task) -> str | None:
    """Why `method` does not apply to the Task instance `task` (something in Method.requires that
    Task.provides does not give), or None."""
    given = task.provides()
    for need in sorted(method.cls.requires):
        if given.get(need, "missing"):
            fix = given.get(need) or f"task {task.name} has none"
            return f"{method.name} needs {need} ({REQUIREMENTS.get(need, need)}): {fix}"
    return None


REQUIREMENTS = {"keywords": "a vocabulary of concepts in the B texts"}


def check_frozen(method, task) -> None:
    """Refuse a method that reads its task's frozen features (Method.reads_frozen) on a Task instance that
    cannot serve them (Task.check_frozen); the cells of other methods are not affected."""
    if method.reads_frozen() and (why := task.check_frozen()):
        raise BenchError(f"method {method.name} on task {task.name}: {why}")


def left_out(grid: Grid) -> str | None:
    """The one line that names the (method, task) pairs `expand` leaves out of a `skip_inapplicable` grid,
    and why; None when it leaves none out."""
    if not grid.skip_inapplicable:
        return None
    methods, tasks = registry.methods(), registry.tasks()
    made = {t: tasks.get(t).create(_params_for(tasks.get(t), grid.task_params)) for t in grid.tasks}
    skipped = [
        f"{m} on {t} ({why.removeprefix(m + ' ')})"
        for t in grid.tasks
        for m in grid.methods
        if (why := inapplicable(methods.get(m), made[t]))
    ]
    return f"left out, as they do not apply: {'; '.join(skipped)}" if skipped else None


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
            if name not in reg.get(owner).params:
                _check_other_kind(reg, name, raw[key], flag)
            reg.get(owner).resolve({name: raw[key]})
        elif not any(name in reg.get(s).params and name not in reg.get(s).fixed for s in selected):
            if not any(name in reg.get(s).params for s in selected):
                _check_other_kind(reg, name, raw[key], flag)
            reg.get(selected[0]).resolve({name: raw[key]})  # raises: unknown, with hints
            raise BenchError(f"{flag} {key}: no selected {reg.kind} lets {name} be set")


def _check_other_kind(reg: Registry, name: str, value: str, flag: str) -> None:
    """A task parameter given to --method-param (or the reverse) names the flag it belongs to."""
    other, use = (
        (registry.tasks(), "--task-param") if reg.kind == "method" else (registry.methods(), "--method-param")
    )
    if any(name in other.get(n).params for n in other.names()):
        raise BenchError(
            f"{flag} {name}={value}: {name} is a {other.kind} parameter: use {use} {name}={value}"
        )


def check_seeds(
    seeds: list[int], split_seed: int, flags: tuple[str, str] = ("--seeds", "--split-seed")
) -> None:
    """Refuse a train seed unless it and the seeds the engine derives from it (`generator_seeds`) lie in
    [0, 2^63), and a split seed unless it does; `flags` name the train and split seeds' flags."""
    from bench.seeds import generator_seeds

    for seed in seeds:
        if not all(g in Interval.parse(SEEDS) for g in generator_seeds(seed)):
            raise BenchError(
                f"{flags[0]} {seed}: a train seed must be in [0, {TRAIN_SEED_END}): the engine seeds "
                f"generators with it and with 3·seed + 0, 1, 2, each below 2^63"
            )
    if split_seed not in Interval.parse(SEEDS):
        raise BenchError(f"{flags[1]} {split_seed}: a split seed must be in {SEEDS} (a generator's seed)")


TRAIN_SEED_END = (2**63 - 3) // 3 + 1  # the first train seed s with 3·s + 2 ≥ 2^63


def check_cells(specs: list[RunSpec], tasks: dict) -> None:
    """Refuse the first cell whose method refuses its split (`Method.check_pool`) or that would train on
    nothing it was asked for (bench.cell.rules.empty_cell; cells with allow_empty=true are let through),
    for the tasks whose pool size is known without loading."""
    from bench.cell.rules import empty_cell
    from bench.engine.split import make_split

    splits: dict = {}
    for spec in specs:
        hp, n = spec.task_params, tasks[spec.task].pool_size()
        if n is None:
            continue
        key = (n, spec.pair_ratio, spec.split_seed, hp["unpaired"], hp["val_fraction"])
        if key not in splits:
            splits[key] = make_split(*key)
        split = splits[key]
        method = registry.methods().get(spec.method).create(spec.method_params)
        if why := method.check_pool(len(split.paired), len(split.unpaired_a), len(split.unpaired_b)):
            raise BenchError(f"{spec.label()}: {why}")
        if not hp["allow_empty"] and (why := empty_cell(split, n, spec.pair_ratio, method, hp)):
            raise BenchError(f"{spec.label()}: {why}")


def expand(grid: Grid) -> list[RunSpec]:
    """Every cell of the grid, in a stable order (task, method, ratio, seed); bad input raises BenchError."""
    methods, tasks = registry.methods(), registry.tasks()
    _check_applies(methods, grid.method_params, grid.methods, "--method-param")
    _check_applies(tasks, grid.task_params, grid.tasks, "--task-param")
    check_seeds(grid.seeds, grid.split_seed)
    mparams = {m: _params_for(methods.get(m), grid.method_params) for m in grid.methods}
    tparams = {t: _params_for(tasks.get(t), grid.task_params) for t in grid.tasks}
    made = {t: tasks.get(t).create(tparams[t]) for t in grid.tasks}  # Task.check: its ranges and rules
    pairs = []
    for t, m in itertools.product(grid.tasks, grid.methods):
        why = inapplicable(methods.get(m), made[t])
        if why and not grid.skip_inapplicable:
            raise BenchError(f"method {m} does not apply to task {t}: {why}")
        if not why:
            pairs.append((t, m))
            check_frozen(methods.get(m).create(mparams[m]), made[t])
    specs = [
        RunSpec(m, t, r, grid.split_seed, s, mparams[m], tparams[t])
        for (t, m), r, s in itertools.product(pairs, grid.ratios, grid.seeds)
    ]
    check_cells(specs, made)
    return specs
