"""`python -m bench study run FILE` and `study status FILE`.

`run` checks the whole file first (tuning studies, every cell it can plan), then brings each tuning study
to its budget (presets saved as `tune` saves them), runs the cells through `run`'s launcher (this
machine, local processes or SLURM arrays), and writes the report. What is done stays done: a second call
runs nothing and leaves an up-to-date report alone; an interrupted call resumes where it stopped.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from bench import atomic
from bench.atomic import CorruptFile
from bench.cell.states import DONE, PENDING
from bench.errors import BenchError
from bench.study.file import Study, load_study, report_dir
from bench.study.plan import Plan, plan_study, tune_configs
from bench.study.tuning import check, counts, left, seconds

RUN_DEFAULTS = {"nproc": 1, "force": False, "detach": False, "dry_run": False}


def cmd_study(args: argparse.Namespace) -> int:
    from bench.cell.store import results_root

    study = load_study(args.file)
    results = results_root(args.results)
    if args.action == "status":
        return status(study, results)
    for key, value in RUN_DEFAULTS.items():
        setattr(args, key, value)
    return run(study, results, args)


def run(study: Study, results: Path, args: argparse.Namespace) -> int:
    from bench.cell.execute import now
    from bench.cell.limits import check_processes
    from bench.cell.store import Store
    from bench.cli.run import check_cluster_flags, launch
    from bench.study.check import check_presets, check_report_metric
    from bench.study.report import write_report
    from bench.study.tuning import tune_all

    if args.jobs is not None and args.jobs < 1:
        raise BenchError(f"--jobs {args.jobs}: give a positive number of cells to run at once")
    check_cluster_flags(args)
    if args.cluster == "none" and args.jobs is not None and args.jobs > 1:
        check_processes(args.jobs, f"--jobs {args.jobs}")
    check_presets(study, results)
    configs = tune_configs(study, results)
    check(study, configs)
    before = plan_study(study, results)  # every cell that can be planned yet is checked before anything runs
    check_report_metric(study, results)
    if args.cluster != "none" and before.cells:
        from bench.cluster.launch import Launcher

        Launcher.prepare(args.cluster, args.profile, args.cluster_param, [c.spec for c in before.cells])
    Store(results).ensure_writable()
    started, tic = now(), time.perf_counter()
    trials = study.tuning.trials if configs else 0
    work = any(not_done(results, before)) or any(left(cfg, trials) for cfg in configs)
    ending = "interrupted"  # not a run state: how this call ended
    try:
        if configs:
            jobs = 1 if args.cluster == "debug" else args.jobs or min(os.cpu_count() or 1, len(configs))
            for line in tune_all(configs, trials, jobs, args.cluster, args.profile, args.cluster_param):
                print(line)
        now_plan = plan_study(study, results)
        work = work or any(not_done(results, now_plan))
        settings = {c.spec.run_id(): c.setting for c in now_plan.cells}
        code = launch([c.spec for c in now_plan.cells], args, settings) if now_plan.cells else 0
        ending = f"exit {code}"
    finally:  # an interrupted call is recorded too: its time counts towards the study's
        if work:
            call = {
                "seconds": round(time.perf_counter() - tic, 1),
                "ending": ending,
                "command": command_of(args),
            }
            record_call(study, results, started, call)
    for what in now_plan.waiting:
        print(f"no preset for {what}: its tuning completed no trial; its tuned cells were not run")
    out = write_report(study, now_plan.cells, results, summary(study, now_plan, configs, results))
    where = report_dir(results, study)
    if out:
        print(f"report → {where / 'report.md'}, tables.tex, report.html")
    else:
        print(
            f"report up to date: {where}"
            if (where / "report.md").is_file()
            else "report: none yet (no cell ran)"
        )
    return code or (1 if now_plan.waiting else 0)


def not_done(results: Path, p: Plan) -> list[bool]:
    from bench.cell.store import Store

    store = Store(results)
    return [store.folder(c.spec.run_id()).state() != DONE for c in p.cells]


def command_of(args: argparse.Namespace) -> str:
    """The `study run` command line of `args`, with the flags it was given but --results (the record lies
    in the results folder, which may move: no record holds its path) and the study file relative to the
    working folder where it lies under it."""
    file = Path(args.file)
    if file.is_absolute() and file.is_relative_to(Path.cwd()):
        file = file.relative_to(Path.cwd())
    words = ["python", "-m", "bench", "study", "run", str(file)]
    flags = {"--jobs": args.jobs, "--profile": args.profile}
    flags["--cluster"] = None if args.cluster == "none" else args.cluster
    words += [w for flag, value in flags.items() if value is not None for w in (flag, str(value))]
    words += [w for kv in args.cluster_param for w in ("--cluster-param", kv)]
    return shlex.join(words)


def record_call(study: Study, results: Path, started: str, call: dict) -> None:
    """Append this call (when, where, how long, how it ended, the command) to the study's calls.json."""
    path = report_dir(results, study) / "calls.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    calls = atomic.read_json(path, default=[])
    calls.append({"started_at": started, "host": f"{platform.node()} ({os.cpu_count()} CPUs)", **call})
    atomic.write_json(path, calls)


def summary(study: Study, p: Plan, configs: list, results: Path) -> list[tuple[str, list[str]]]:
    """The report's opening sections: the study, its tuning and the calls that ran it."""
    states = cell_states(results, p)
    counted = ", ".join(f"{n} {s}" for s, n in sorted(count(states.values()).items()))
    settings = ", ".join(sorted({c.setting or "as given" for c in p.cells}))
    lines = [
        f"file: {study.path} (as run: study.yaml beside this report)",
        f"cells: {len(p.cells)} ({counted}); settings: {settings}",
        "tasks: "
        + "; ".join(
            f"{t.name} ({len(t.pairs)} seeds, (split seed, seed) {list(t.pairs)})" for t in study.tasks
        ),
        f"pair ratios: {', '.join(f'{r:g}' for r in study.ratios)}",
    ]
    lines += [f"waiting for tuning: {w}" for w in p.waiting]
    lines += [f"left out, as it does not apply: {w}" for w in p.left_out]
    out = [("Study", lines)]
    if study.tuning:
        t = study.tuning
        head = (
            f"{t.trials} trials per method and task at r = {t.pair_ratio:g} on a validation split of "
            f"{t.val_fraction:g} of the train pool (split seed {t.split_seed}, seed {t.seed})"
        )
        out.append(("Tuning", [head, *(tuning_line(cfg, results) for cfg in configs)]))
    calls = atomic.read_json(report_dir(results, study) / "calls.json", default=[])
    out.append(
        (
            "Calls",
            [
                f"{c['started_at']} on {c['host']}: {c['seconds']:.0f} s, {c['ending']}: {c['command']}"
                for c in calls
            ]
            or ["none recorded"],
        )
    )
    return out


def tuning_line(cfg, results: Path) -> str:
    from bench.tune.preset import preset_path

    n = counts(cfg)
    made = ", ".join(f"{k} {v}" for k, v in sorted(n.items())) or "no trial"
    preset = atomic.read_json(preset_path(results, cfg.name), default=None)
    best = f"best {preset['metric']} = {preset['value']:.4g} → preset {cfg.name}" if preset else "no preset"
    return f"{cfg.method} on {cfg.task}: {made} ({seconds(cfg):.0f} s); {best}"


def cell_states(results: Path, p: Plan) -> dict[str, str]:
    from bench.cell.store import Store

    store = Store(results)
    return {c.spec.run_id(): store.folder(c.spec.run_id()).state() for c in p.cells}


def count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def status(study: Study, results: Path) -> int:
    """What is done and what is left: each tuning study's trials, each cell not done, the report."""
    configs = tune_configs(study, results)
    p = plan_study(study, results)
    print(f"study {study.name} ({study.path}), results {results}")
    for cfg in configs:
        try:
            more = left(cfg, study.tuning.trials)
            print(f"tuning {tuning_line(cfg, results)}" + (f"; {more} trial(s) left" if more else ""))
        except CorruptFile as err:  # named, and the rest reported
            print(err, file=sys.stderr)
            print(f"tuning {cfg.name}: its journal cannot be read")
    states = status_lines(results, p)
    counted = ", ".join(f"{n} {s}" for s, n in sorted(count(states.values()).items())) or "none"
    print(f"{len(p.cells)} cells: {counted}")
    for what in p.waiting:
        print(f"waiting for tuning: the tuned cells of {what}")
    for what in p.left_out:
        print(f"left out, as it does not apply: {what}")
    page = report_dir(results, study) / "report.md"
    print(f"report: {page}" if page.is_file() else "report: not written yet")
    return 0


def status_lines(results: Path, p: Plan) -> dict[str, str]:
    """Print each cell that is neither done nor pending as `status` does (with its job, reason and log),
    and the pending ones counted by method, setting and task; return run id → state."""
    from bench.cell.status import cell_status, format_line
    from bench.cell.store import Store
    from bench.cluster.jobfile import views

    store = Store(results)
    folders = {c.spec.run_id(): store.folder(c.spec.run_id()) for c in p.cells}
    made = [f for f in folders.values() if f.file("spec.json").is_file()]
    report_unreadable(made)
    jobs = views(made)
    states, pending = {}, {}
    for cell in p.cells:
        run_id, setting = cell.spec.run_id(), cell.setting or "as given"
        folder = folders[run_id]
        known = folder.file("spec.json").is_file()
        state = cell_status(folder, jobs.get(run_id)) if known else None
        states[run_id] = state.state if state else PENDING
        if states[run_id] == PENDING:
            what = f"{cell.spec.method} ({setting}) on {cell.spec.task}"
            pending[what] = pending.get(what, 0) + 1
        elif states[run_id] != DONE:
            print(format_line(folder, state, setting, cell.spec.label()))
    for what, n in pending.items():
        print(f"pending     {n} cell(s) of {what}")
    return states


def report_unreadable(folders: list) -> None:
    """Each file of the study's run folders that cannot be read, on stderr as `status` reports it: one line
    each, then a count."""
    found = [err for f in folders for err in f.unreadable()]
    for err in found:
        print(err, file=sys.stderr)
    broken = len({err.path.parent for err in found})
    if broken:
        print(f"{broken} of {len(folders)} runs have files that cannot be read", file=sys.stderr)
