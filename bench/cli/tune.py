"""`python -m bench tune`: set up each study, run its workers (here, as local processes or on SLURM),
save the best parameters as a preset; `tune --show` reports on studies."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench import registry
from bench.cell.limits import check_processes
from bench.cell.spec import ROOT
from bench.errors import BenchError
from bench.params import parse_assignments

DEFAULT_VAL_FRACTION = "0.2"
EVALS_PER_RUN = 4  # intermediate evaluations the pruner sees when --task-param eval_every is not given


def cmd_tune(args: argparse.Namespace) -> int:
    from bench.cell.store import Store, results_root

    results = results_root(args.results)
    if args.show:
        return show_studies(results, args.study)
    methods = select_methods(args)
    if args.trials is None or args.trials < 1:
        raise BenchError(f"--trials {args.trials}: give a positive number of trials per method")
    if args.workers < 1 or (args.workers > 1 and args.cluster == "none"):
        raise BenchError(f"--workers {args.workers}: give 1, or more with --cluster local or slurm")
    if args.cluster != "slurm" and (args.profile or args.cluster_param):
        raise BenchError("--profile and --cluster-param need --cluster slurm")
    if args.cluster == "local" and args.workers > 1:
        check_processes(args.workers, f"--workers {args.workers}")
    configs = [study_config(args, m, results, len(methods) > 1) for m in methods]
    check_studies(configs)
    Store(results).ensure_writable()
    for cfg in configs:
        cfg.save()
        run_workers(cfg, args)
        print(finish(cfg, results))
    return 0


def check_studies(configs: list, rename: str = "with --study NEW_NAME") -> None:
    """Before any trial or file: each study's trial passes `run`'s checks (seeds, the task's rules, no empty
    cell), its metric is one its task reports, a study of the same name has the same setup, and a database
    given with --storage opens."""
    from bench.tune.study import check_metric, check_trials, storage

    for cfg in configs:
        cfg.check_unchanged(rename)
        check_trials(cfg)
        check_metric(cfg)
    for url in dict.fromkeys(cfg.storage for cfg in configs if "://" in cfg.storage):
        storage(url)


def select_methods(args: argparse.Namespace) -> list[str]:
    """--method M, or --methods m1,m2 with --budget equal (every method gets --trials trials)."""
    from bench.cell.grid import parse_names

    if bool(args.method) == bool(args.methods):
        raise BenchError("name the method to tune: --method M, or --methods m1,m2 --budget equal")
    if args.methods and args.budget != "equal":
        raise BenchError("--methods tunes several methods: add --budget equal (the same trials for each)")
    return parse_names(args.methods or args.method, registry.methods())


def study_config(args: argparse.Namespace, method: str, results: Path, several: bool):
    """The study of one method: its search space, fixed parameters, metric, name and storage."""
    from bench.cell.grid import parse_ratios
    from bench.tune.space import search_space
    from bench.tune.study import StudyConfig
    from tasks.base import Task

    m, t = registry.methods().get(method), registry.tasks().get(args.task)
    if t.cls.evaluate_items is Task.evaluate_items:
        raise BenchError(
            f"task {t.name} cannot be tuned: it does not score train-pool items (evaluate_items)"
        )
    ratios = parse_ratios(args.pair_ratio)
    if len(ratios) != 1:
        raise BenchError(f"--pair-ratio {args.pair_ratio}: a study tunes one pair ratio")
    names = [n.strip() for n in args.params.split(",") if n.strip()] if args.params else None
    space = search_space(m, t, names)
    method_raw = parse_assignments(args.method_param, "--method-param")
    task_raw = {"val_fraction": DEFAULT_VAL_FRACTION, **parse_assignments(args.task_param, "--task-param")}
    m.resolve(method_raw)
    hp = t.resolve(task_raw)
    if not 0 < hp["val_fraction"] < 1:
        raise BenchError(f"val_fraction={hp['val_fraction']:g}: tuning needs a validation split in (0, 1)")
    if not hp["eval_every"]:
        task_raw["eval_every"] = str(max(1, hp["steps"] // EVALS_PER_RUN))
    metric = args.metric or t.cls.primary_metric
    name = args.study or f"{method}-{t.name}-r{ratios[0]:g}"
    name = f"{name}-{method}" if several and args.study else name
    return StudyConfig(
        name=name,
        results=str(results),
        storage=args.storage or str(results / "studies" / f"{name}.log"),
        method=method,
        task=t.name,
        pair_ratio=ratios[0],
        metric=metric,
        space=space,
        method_params=method_raw,
        task_params=task_raw,
        split_seed=args.split_seed,
        seed=args.seed,
    )


def run_workers(cfg, args: argparse.Namespace) -> None:
    """--trials more trials shared among --workers workers: here, local processes or SLURM array tasks."""
    from bench.tune.study import work

    trials, workers = args.trials, args.workers
    shares = [n for i in range(workers) if (n := trials // workers + (i < trials % workers))]
    if args.cluster == "none":
        work(cfg, trials)
    elif args.cluster == "local":
        run_local(cfg, shares)
    else:
        from bench.tune.slurm import submit_workers

        submit_workers(cfg, shares, args.profile, args.cluster_param)


def run_local(cfg, shares: list[int]) -> None:
    threads = str(max(1, (os.cpu_count() or 1) // len(shares)))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    log = cfg.path.with_suffix(".workers.txt")
    with open(log, "ab") as out:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench", "tune_worker", str(cfg.path), str(n), "--index", str(i)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for i, n in enumerate(shares)
        ]
        codes = [p.wait() for p in procs]
    if any(codes):
        raise BenchError(f"tuning workers exited with codes {codes}; see {log}")


def finish(cfg, results: Path) -> str:
    """Save the best trial as the preset named after the study; one line saying so."""
    import optuna

    from bench.tune.preset import save_preset
    from bench.tune.study import open_study

    study = open_study(cfg)
    n = len(study.trials)
    if not study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]):
        return f"study {cfg.name}: {n} trials, none completed; no preset"
    best = study.best_trial
    path = save_preset(results, cfg.name, cfg, best)
    return (
        f"study {cfg.name}: {n} trials; best val_{cfg.metric} = {best.value:.4g} (trial {best.number}) "
        f"→ preset {cfg.name} ({path}); use: run --method-param preset={cfg.name}"
    )


def show_studies(results: Path, name: str | None) -> int:
    from bench.tune.show import show
    from bench.tune.study import StudyConfig

    names = [name] if name else sorted(p.stem for p in (results / "studies").glob("*.json"))
    if not names:
        raise BenchError(f"no studies under {results / 'studies'}; start one with `python -m bench tune`")
    for n in names:
        print("\n".join(show(StudyConfig.load(results, n))))
    return 0


def cmd_tune_worker(args: argparse.Namespace) -> int:
    from bench.tune.study import StudyConfig, work

    work(StudyConfig.from_file(Path(args.config)), args.trials, args.index)
    return 0
