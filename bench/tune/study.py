"""A study: its config (studies/<name>.json), its optuna storage, and the objective every worker runs.

Each trial is a normal run folder whose task holds out `val_fraction` of the train pool; the
objective is that validation split's metric (`val_<metric>` in metrics.json, never a test metric),
reported at every `eval_every` evaluation so the median pruner can stop a poor trial; a pruned
run folder ends in the state `pruned`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from bench import atomic, registry
from bench.cell import states
from bench.cell.execute import execute
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.errors import BenchError
from bench.tune.space import suggest


class RunFailed(Exception):
    """A trial's run failed or was busy elsewhere; the trial is marked failed and the study goes on."""


@dataclass(frozen=True)
class StudyConfig:
    name: str
    results: str
    storage: str
    method: str
    task: str
    pair_ratio: float
    metric: str
    space: dict[str, str]
    method_params: dict[str, str]
    task_params: dict[str, str]
    split_seed: int = 0
    seed: int = 0
    sampler_seed: int = 0

    @property
    def path(self) -> Path:
        return config_path(Path(self.results), self.name)

    def save(self) -> None:
        """Write the config, unless a study of the same name has another setup (check_unchanged)."""
        self.check_unchanged()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(self.path, self.to_file())

    def to_file(self) -> dict[str, Any]:
        """The config as its file holds it: no results folder (the file's place says it) and the journal
        beside it by name, so that a results folder moved or copied elsewhere is the same study."""
        out = asdict(self)
        del out["results"]
        if "://" not in self.storage and Path(self.storage).parent == self.path.parent:
            out["storage"] = Path(self.storage).name
        return out

    @classmethod
    def from_file(cls, path: Path) -> StudyConfig:
        """The config of the file at `path` (<results>/studies/NAME.json), its results folder and journal
        where the file is now (a file written before: its absolute journal beside it is read so too)."""
        path = Path(path)
        obj = atomic.read_json(path, kind=dict)
        storage = obj.get("storage", f"{path.stem}.log")
        old = obj.pop("results", None)
        if "://" not in storage and (
            not Path(storage).is_absolute() or (old and Path(storage).parent == Path(old) / "studies")
        ):
            storage = str(path.parent / Path(storage).name)
        return cls(**{**obj, "results": str(path.parent.parent), "storage": storage})

    def check_unchanged(self, rename: str = "with --study NEW_NAME") -> None:
        """A study of this name with another setup is an error saying what differs and how to start anew
        (`rename`: how a new name is given)."""
        old = StudyConfig.from_file(self.path).to_file() if self.path.is_file() else None
        changes = setup_changes(old, self.to_file()) if old is not None else []
        if changes:
            raise BenchError(
                f"study {self.name} exists with another setup: {'; '.join(changes)}; start a new one "
                f"{rename}, or delete {self.discard()} to start {self.name} anew"
            )

    def discard(self) -> str:
        """What to delete to start this study anew: its config and its journal (or its database entry)."""
        if "://" in self.storage:
            return f"{self.path} and the study {self.name} in the database (optuna delete-study)"
        return f"{self.path} and {self.storage}"

    @classmethod
    def load(cls, results: Path, name: str) -> StudyConfig:
        path = config_path(results, name)
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
            raise BenchError(f"no study {name!r} under {path.parent}; known: {known}")
        return cls.from_file(path)


def config_path(results: Path, name: str) -> Path:
    return results / "studies" / f"{name}.json"


def setup_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'key: old → new' for each setting that differs (parameters one by one); the storage may change."""
    out = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, UNSET), new.get(key, UNSET)
        if key == "storage" or before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            for name in sorted(set(before) | set(after)):
                b, a = before.get(name, UNSET), after.get(name, UNSET)
                if b != a:
                    out.append(f"{key}.{name}: {shown(b)} → {shown(a)}")
        else:
            out.append(f"{key}: {shown(before)} → {shown(after)}")
    return out


UNSET = object()


def shown(value: Any) -> str:
    return "(unset)" if value is UNSET else str(value)


def storage(url_or_path: str) -> Any:
    """A database opened from its URL (an unusable one is one BenchError line), or a journal file that
    workers on a shared filesystem can share."""
    if "://" in url_or_path:
        return database(url_or_path)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(url_or_path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(url_or_path))


def database(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BenchError(
            f"--storage {url}: not a database URL (e.g. sqlite:///studies.db, postgresql://host/db); "
            "leave it out for a journal file under <results>/studies/"
        ) from None
    shown_url = parsed.render_as_string(hide_password=True)
    try:
        return optuna.storages.RDBStorage(url)
    except NoSuchModuleError:
        raise BenchError(
            f"--storage {shown_url}: no database kind {parsed.drivername!r} "
            "(e.g. sqlite:///studies.db, postgresql://host/db, mysql://host/db)"
        ) from None
    except Exception as err:  # noqa: BLE001  (any driver, any reason: one line saying it)
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise BenchError(f"--storage {shown_url}: cannot open it: {reason}") from None


def open_study(cfg: StudyConfig, seed: int = 0) -> optuna.Study:
    """The study, loaded (a study resumes where it stopped) or created; a TPE sampler seeded by `seed`."""
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    found = read_study(cfg, sampler, pruner)
    if found is not None:  # create_study(load_if_exists=True) would append to the journal on every call
        return found
    return optuna.create_study(
        study_name=cfg.name,
        storage=storage(cfg.storage),
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def read_study(cfg: StudyConfig, sampler: Any = None, pruner: Any = None) -> optuna.Study | None:
    """The study as its storage holds it, read without writing anything (None when it holds no such study);
    a journal that cannot be read is a CorruptFile naming it and how to start anew."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(
            study_name=cfg.name, storage=storage(cfg.storage), sampler=sampler, pruner=pruner
        )
    except KeyError:
        return None
    except ValueError as err:  # a journal line cut short or overwritten (json's errors are ValueErrors)
        if "://" in cfg.storage:
            raise
        why = (str(err).splitlines() or [type(err).__name__])[0]
        raise atomic.CorruptFile(
            Path(cfg.storage),
            f"not an optuna journal ({why}); delete {cfg.discard()} to start study {cfg.name} anew "
            "(its finished run folders stay)",
        ) from None


def trial_spec(cfg: StudyConfig, values: dict[str, Any]) -> RunSpec:
    """The run of one trial: the study's fixed parameters with the trial's values."""
    method, task = registry.methods().get(cfg.method), registry.tasks().get(cfg.task)
    mparams, tparams = method.resolve(cfg.method_params), task.resolve(cfg.task_params)
    for name, value in values.items():
        (mparams if cfg.space[name] == "method" else tparams)[name] = value
    return RunSpec(cfg.method, cfg.task, cfg.pair_ratio, cfg.split_seed, cfg.seed, mparams, tparams)


def check_trials(cfg: StudyConfig) -> None:
    """Refuse before the first trial what `run` refuses of a grid before anything is written
    (bench/cell/grid.py): the seeds (--seed, --split-seed), the task's rules (Task.check) and a cell that
    would train on nothing it was asked for, on the validation split of the study's trial with its searched
    parameters at their defaults."""
    from bench.cell.grid import Grid, check_seeds, expand

    check_seeds([cfg.seed], cfg.split_seed, ("--seed", "--split-seed"))
    cell = ([cfg.method], [cfg.task], [cfg.pair_ratio], [cfg.seed], cfg.split_seed)
    expand(Grid(*cell, method_params=cfg.method_params, task_params=cfg.task_params))


def check_metric(cfg: StudyConfig) -> None:
    """Refuse an unknown --metric before the first trial. The task's primary metric is known, and so is the
    metric a study of this name began with; for any other, an untrained model of the study's first trial
    is scored on the study's validation split, which names every metric a trial reports."""
    if cfg.metric == registry.tasks().get(cfg.task).cls.primary_metric:
        return
    old = atomic.read_json(cfg.path, default=None)
    if old is not None and old.get("metric") == cfg.metric:
        return
    known = untrained_metrics(cfg)
    if cfg.metric in known:
        return
    bare = cfg.metric.removeprefix("val_")
    hint = f" (write it without val_: --metric {bare})" if bare != cfg.metric and bare in known else ""
    raise BenchError(
        f"--metric {cfg.metric}: task {cfg.task} reports no such validation metric{hint}; "
        f"its metrics: {', '.join(known)}"
    )


def untrained_metrics(cfg: StudyConfig) -> list[str]:
    """The names of the metrics the task computes on the study's validation items, for an untrained model
    built as the study's runs build theirs (the task's data stays loaded for the first trial)."""
    import torch

    from bench.cell.execute import load_task
    from bench.engine.split import make_split
    from bench.engine.train import build_model

    spec = trial_spec(cfg, {})
    hp = spec.task_params
    task, data, _ = load_task(spec)
    split = make_split(len(data), spec.pair_ratio, spec.split_seed, hp["unpaired"], hp["val_fraction"])
    method = registry.methods().get(cfg.method).create(spec.method_params)
    with torch.random.fork_rng():
        torch.manual_seed(spec.seed)
        model = build_model(task, method, data, hp).eval()
        with torch.no_grad():
            return sorted(task.evaluate_items(model, data, split.val))


def objective(cfg: StudyConfig, trial: optuna.Trial) -> float:
    method, task = registry.methods().get(cfg.method), registry.tasks().get(cfg.task)
    params = {**task.params, **method.params}
    spec = trial_spec(cfg, {name: suggest(trial, name, params[name]) for name in cfg.space})
    run_id = spec.run_id()
    trial.set_user_attr("run_id", run_id)
    folder = Store(Path(cfg.results)).create(spec, run_id)
    key = f"val_{cfg.metric}"

    def on_eval(step: int, metrics: dict[str, float]) -> str | None:
        if key not in metrics:  # an unknown --metric: said after the run, with the metrics it has
            return None
        trial.report(float(metrics[key]), step)
        return (
            f"pruned by study {cfg.name} (trial {trial.number}) at step {step}"
            if trial.should_prune()
            else None
        )

    state = execute(folder, on_eval=on_eval)
    if state == states.PRUNED:
        raise optuna.TrialPruned(folder.status().get("error"))
    if state != states.DONE:
        raise RunFailed(f"run {run_id} {state}: {folder.status().get('error', 'locked by another process')}")
    metrics = folder.metrics()
    if key not in metrics:
        shown = ", ".join(k for k in metrics if k.startswith("val_"))
        raise BenchError(f"--metric {cfg.metric}: the run has no {key}; validation metrics: {shown}")
    return float(metrics[key])


def work(cfg: StudyConfig, trials: int, index: int = 0) -> None:
    """One worker: `trials` more trials of the study (shared with any other worker on its storage)."""
    # a seed of its own per worker and per resume, so that no two draw the same startup trials
    done = len(open_study(cfg).trials)
    study = open_study(cfg, seed=cfg.sampler_seed + 1000 * index + done)
    study.optimize(lambda t: objective(cfg, t), n_trials=trials, catch=(RunFailed,))
