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

from bench import atomic, registry, states
from bench.errors import BenchError
from bench.execute import execute
from bench.spec import RunSpec
from bench.store import Store
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
        """Write the config; a study of the same name with another setup is an error."""
        old = atomic.read_json(self.path, default=None)
        if old is not None and {**old, "storage": self.storage} != asdict(self):
            raise BenchError(
                f"study {self.name} exists with another setup ({self.path}); choose --study NAME"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(self.path, asdict(self))

    @classmethod
    def load(cls, results: Path, name: str) -> StudyConfig:
        path = config_path(results, name)
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
            raise BenchError(f"no study {name!r} under {path.parent}; known: {known}")
        return cls(**atomic.read_json(path))


def config_path(results: Path, name: str) -> Path:
    return results / "studies" / f"{name}.json"


def storage(url_or_path: str) -> Any:
    """A database URL as given, or a journal file that workers on a shared filesystem can share."""
    if "://" in url_or_path:
        return url_or_path
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(url_or_path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(url_or_path))


def open_study(cfg: StudyConfig, seed: int = 0) -> optuna.Study:
    """The study, created or loaded (a study resumes where it stopped); a TPE sampler seeded by `seed`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=cfg.name,
        storage=storage(cfg.storage),
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        load_if_exists=True,
    )


def trial_spec(cfg: StudyConfig, values: dict[str, Any]) -> RunSpec:
    """The run of one trial: the study's fixed parameters with the trial's values."""
    method, task = registry.methods().get(cfg.method), registry.tasks().get(cfg.task)
    mparams, tparams = method.resolve(cfg.method_params), task.resolve(cfg.task_params)
    for name, value in values.items():
        (mparams if cfg.space[name] == "method" else tparams)[name] = value
    return RunSpec(cfg.method, cfg.task, cfg.pair_ratio, cfg.split_seed, cfg.seed, mparams, tparams)


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
