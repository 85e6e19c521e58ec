"""A study file (`studies/NAME.yaml`), read and checked: any mistake is one BenchError line naming the file
and the key (`study studies/x.yaml: tasks.synthetic.seeds: ...`), before anything is run or written.

    description: what the study asks            # optional, shown on the report
    tasks:                                       # a list of names, or name -> settings
      synthetic:
        params: {steps: 200}                     # task parameters (the training budget is here)
        seeds: [0, 1, 2, 3, 4]                   # train seeds (default: the top-level seeds)
        split_seeds: same                        # same | N | [N, ...] (default: the top-level split_seeds)
    methods: all                                 # all, a list of names, or name -> {params, preset}
    pair_ratios: [0.05, 0.1]
    seeds: [0, 1, 2]                             # default [0, 1, 2]
    split_seeds: 0                               # same: seed s with split seed s; N: all with N;
                                                 # a list as long as seeds: the pairs (default 0)
    tune:                                        # optional: optuna on the validation split
      trials: 10                                 # per method and task, the same for every method
      pair_ratio: 0.05
      defaults: true                             # also run every method with its published defaults
      metric: a2b_r1                             # default: each task's primary metric
      val_fraction: 0.2
      seed: 0
      split_seed: 0
    report:
      tables: [ratio, ablation]
      plots: [ratio, ablation, cost]
      metric: null                               # default: each task's primary metric
      spread: std                                # std | ci
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import registry
from bench.errors import BenchError
from bench.params import SEEDS, Interval
from bench.suggest import closest
from bench.tune.preset import text
from bench.yamlfile import kind, read_yaml

TOP = ("description", "tasks", "methods", "pair_ratios", "seeds", "split_seeds", "tune", "report")
TASK_KEYS = ("params", "seeds", "split_seeds")
METHOD_KEYS = ("params", "preset")
TUNE_KEYS = ("trials", "pair_ratio", "defaults", "metric", "val_fraction", "seed", "split_seed")
REPORT_KEYS = ("tables", "plots", "metric", "spread")
TABLES, PLOTS, SPREADS = ("ratio", "ablation"), ("ratio", "ablation", "cost"), ("std", "ci")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class TaskSetting:
    name: str
    params: dict[str, str]  # raw k=v text, as --task-param gives it
    pairs: tuple[tuple[int, int], ...]  # (split seed, train seed)


@dataclass(frozen=True)
class MethodSetting:
    name: str
    params: dict[str, str]
    preset: str | None = None  # a saved preset (<results>/presets/NAME.json): the method is not tuned


@dataclass(frozen=True)
class Tuning:
    trials: int
    pair_ratio: float
    defaults: bool = False
    metric: str | None = None
    val_fraction: float = 0.2
    seed: int = 0
    split_seed: int = 0


@dataclass(frozen=True)
class ReportSetting:
    tables: tuple[str, ...] = TABLES
    plots: tuple[str, ...] = PLOTS
    metric: str | None = None
    spread: str = "std"


@dataclass(frozen=True)
class Study:
    name: str
    path: Path
    text: str  # the file as written, copied beside the report
    description: str
    tasks: tuple[TaskSetting, ...]
    methods: tuple[MethodSetting, ...]
    ratios: tuple[float, ...]
    tuning: Tuning | None
    report: ReportSetting


def report_dir(results: Path, study: Study) -> Path:
    """Where the study's report, its copy of the file and its record of calls are written."""
    return results / "studies" / study.name


class Reader:
    """Checks of one file's values; every mistake names the file and the key."""

    def __init__(self, path: Path):
        self.where = f"study {path}"

    def fail(self, key: str, problem: str) -> BenchError:
        return BenchError(f"{self.where}: {key}: {problem}")

    def mapping(self, key: str, value: Any, allowed: tuple[str, ...]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of {', '.join(allowed)}, got {kind(value)}")
        for k in value:
            if k not in allowed:
                where = f"{key}.{k}" if key else str(k)
                raise self.fail(where, f"unknown key{closest(str(k), allowed)}; known: {', '.join(allowed)}")
        return value

    def integer(self, key: str, value: Any, low: int = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.fail(key, f"expected an integer >= {low}, got {value!r}")
        return value

    def seed(self, key: str, value: Any) -> int:
        self.integer(key, value)
        if value not in Interval.parse(SEEDS):
            raise self.fail(key, f"{value} is not a seed in {SEEDS}")
        return value

    def train_seed(self, key: str, value: Any) -> int:
        """A seed that also seeds the engine's derived generators (bench.cell.grid.check_seeds)."""
        from bench.cell.grid import TRAIN_SEED_END

        self.integer(key, value)
        if value >= TRAIN_SEED_END:
            raise self.fail(
                key, f"{value} is not a train seed in [0, {TRAIN_SEED_END}) (3·seed + 2 must be below 2^63)"
            )
        return value

    def ratio(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.fail(key, f"expected a pair ratio in [0, 1], got {value!r}")
        return float(value)

    def seq(self, key: str, value: Any) -> list:
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"expected a non-empty list, got {kind(value)}")
        if len(set(map(repr, value))) != len(value):
            raise self.fail(key, f"{value} repeats an item")
        return value

    def choices(self, key: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
        items = [] if value == [] else self.seq(key, value)
        for item in items:
            if item not in allowed:
                raise self.fail(
                    key, f"unknown {item!r}{closest(str(item), allowed)}; choose from {', '.join(allowed)}"
                )
        return tuple(items)

    def name(self, key: str, reg: registry.Registry, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a {reg.kind} name, got {value!r}")
        try:
            return reg.get(value).name
        except BenchError as err:
            raise self.fail(key, str(err)) from None

    def params(self, key: str, entry: registry.Entry, value: Any) -> dict[str, str]:
        """Parameters of `entry` as k=v text, checked against its declared ranges."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of parameter: value, got {kind(value)}")
        raw = {str(k): text(v) for k, v in value.items()}
        for k, v in value.items():
            if isinstance(v, (dict, list)) or v is None:
                raise self.fail(f"{key}.{k}", f"expected a single value, got {v!r}")
        other = registry.tasks() if entry.kind == "method" else registry.methods()
        for k in raw:
            if k not in entry.params and any(k in other.get(n).params for n in other.names()):
                raise self.fail(
                    f"{key}.{k}", f"{k} is a {other.kind} parameter: put it under {other.kind}s.NAME.params"
                )
        try:
            entry.resolve(raw)
        except BenchError as err:
            raise self.fail(key, str(err)) from None
        return raw


def load_study(path: str | Path) -> Study:
    """Read and check the study file at `path`; BenchError (one line, the file and the key) if wrong."""
    path = Path(path)
    r = Reader(path)
    body, data = read_yaml(path, r.where)
    if not isinstance(data, dict):
        raise BenchError(f"{r.where}: expected a mapping with {', '.join(TOP)}, got {kind(data)}")
    r.mapping("", data, TOP)
    if not NAME.fullmatch(path.stem):
        raise BenchError(
            f"{r.where}: name the file with letters, digits, '_', '.' or '-' (it names the study)"
        )
    for key in ("tasks", "methods", "pair_ratios"):
        if key not in data:
            raise r.fail(key, "missing; a study names its tasks, methods and pair_ratios")
    seeds = [
        r.train_seed(f"seeds[{i}]", s) for i, s in enumerate(r.seq("seeds", data.get("seeds", [0, 1, 2])))
    ]
    split = data.get("split_seeds", 0)
    pairs(r, "split_seeds", split, seeds)  # checked here even when every task gives its own
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise r.fail("description", f"expected text, got {kind(description)}")
    return Study(
        name=path.stem,
        path=path,
        text=body,
        description=description.strip(),
        tasks=tuple(read_tasks(r, data["tasks"], seeds, split)),
        methods=tuple(read_methods(r, data["methods"])),
        ratios=tuple(
            r.ratio(f"pair_ratios[{i}]", x) for i, x in enumerate(r.seq("pair_ratios", data["pair_ratios"]))
        ),
        tuning=read_tuning(r, data.get("tune")),
        report=read_report(r, data.get("report")),
    )


def pairs(r: Reader, key: str, split: Any, seeds: list[int]) -> tuple[tuple[int, int], ...]:
    """(split seed, train seed) of every seed: `same` pairs seed s with split seed s, N every seed with N, a
    list as long as the seeds pairs them in order."""
    if split == "same":
        return tuple((r.seed(key, s), s) for s in seeds)
    if isinstance(split, list):
        if len(split) != len(seeds):
            raise r.fail(
                key, f"{len(split)} split seeds for {len(seeds)} seeds; give one per seed, 'same' or N"
            )
        return tuple((r.seed(f"{key}[{i}]", x), s) for i, (x, s) in enumerate(zip(split, seeds, strict=True)))
    if isinstance(split, int) and not isinstance(split, bool):
        return tuple((r.seed(key, split), s) for s in seeds)
    raise r.fail(key, f"expected same, a seed or a list of seeds (one per seed), got {split!r}")


def each(r: Reader, reg: registry.Registry, value: Any, allowed: tuple[str, ...]):
    """(key, entry, settings) of each name of a list of names, or of a non-empty mapping name -> settings."""
    key = f"{reg.kind}s"
    if isinstance(value, list):
        value = dict.fromkeys(r.seq(key, value))
    elif not (isinstance(value, dict) and value):
        also = "all, " if key == "methods" else ""
        raise r.fail(key, f"expected {also}a list of names or a mapping of name: settings, got {value!r}")
    for name, settings in value.items():
        where = f"{key}.{name}"
        yield where, reg.get(r.name(where, reg, name)), r.mapping(where, settings, allowed)


def read_tasks(r: Reader, value: Any, seeds: list[int], split: Any) -> list[TaskSetting]:
    out = []
    for key, entry, given in each(r, registry.tasks(), value, TASK_KEYS):
        own = (
            [
                r.train_seed(f"{key}.seeds[{i}]", s)
                for i, s in enumerate(r.seq(f"{key}.seeds", given["seeds"]))
            ]
            if "seeds" in given
            else seeds
        )
        out.append(
            TaskSetting(
                entry.name,
                r.params(f"{key}.params", entry, given.get("params")),
                pairs(r, f"{key}.split_seeds", given.get("split_seeds", split), own),
            )
        )
    return out


def read_methods(r: Reader, value: Any) -> list[MethodSetting]:
    if value == "all":
        return [MethodSetting(n, {}) for n in registry.methods().names()]
    out = []
    for key, entry, given in each(r, registry.methods(), value, METHOD_KEYS):
        preset = given.get("preset")
        if preset is not None and not (isinstance(preset, str) and NAME.fullmatch(preset)):
            raise r.fail(f"{key}.preset", f"expected the name of a saved preset, got {preset!r}")
        out.append(MethodSetting(entry.name, r.params(f"{key}.params", entry, given.get("params")), preset))
    return out


def read_tuning(r: Reader, value: Any) -> Tuning | None:
    if value is None:
        return None
    given = r.mapping("tune", value, TUNE_KEYS)
    for key in ("trials", "pair_ratio"):
        if key not in given:
            raise r.fail(f"tune.{key}", "missing; tuning needs trials (per method and task) and a pair_ratio")
    defaults = given.get("defaults", False)
    if not isinstance(defaults, bool):
        raise r.fail("tune.defaults", f"expected true or false, got {defaults!r}")
    metric = given.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise r.fail("tune.metric", f"expected a metric name, got {metric!r}")
    val = given.get("val_fraction", Tuning.val_fraction)
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 < val < 1:
        raise r.fail("tune.val_fraction", f"expected a share in (0, 1), got {val!r}")
    return Tuning(
        trials=r.integer("tune.trials", given["trials"], low=1),
        pair_ratio=r.ratio("tune.pair_ratio", given["pair_ratio"]),
        defaults=defaults,
        metric=metric,
        val_fraction=float(val),
        seed=r.train_seed("tune.seed", given.get("seed", 0)),
        split_seed=r.seed("tune.split_seed", given.get("split_seed", 0)),
    )


def read_report(r: Reader, value: Any) -> ReportSetting:
    given = r.mapping("report", value, REPORT_KEYS)
    metric = given.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise r.fail("report.metric", f"expected a metric name, got {metric!r}")
    spread = given.get("spread", "std")
    if spread not in SPREADS:
        raise r.fail("report.spread", f"unknown {spread!r}; choose from {', '.join(SPREADS)}")
    return ReportSetting(
        tables=r.choices("report.tables", given.get("tables", list(TABLES)), TABLES),
        plots=r.choices("report.plots", given.get("plots", list(PLOTS)), PLOTS),
        metric=metric,
        spread=spread,
    )
