"""The commands that run cells: `list`, `run`, `data`, and the internal `exec` (one cell) and `worker` (a
sweep's worker). Each takes the parsed arguments and returns an exit code; `launch` is also how a study
runs its cells."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bench import registry
from bench.errors import BenchError
from bench.params import parse_assignments


def cmd_list(args: argparse.Namespace) -> int:
    from bench.cli.listing import describe

    print(describe())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bench.cell.grid import Grid, expand, left_out, parse_ints, parse_names, parse_ratios
    from bench.cell.store import results_root
    from bench.tune.preset import apply_preset

    if args.jobs is not None and args.jobs < 1:
        raise BenchError(f"--jobs {args.jobs}: give a positive number of cells to run at once")
    check_cluster_flags(args)
    check_nproc(args)
    tasks = parse_names(args.tasks, registry.tasks())
    method_params = parse_assignments(args.method_param, "--method-param")
    task_params = parse_assignments(args.task_param, "--task-param")
    apply_preset(method_params, task_params, tasks, results_root(args.results))
    grid = Grid(
        methods=parse_names(args.methods, registry.methods()),
        tasks=tasks,
        ratios=parse_ratios(args.pair_ratio),
        seeds=parse_ints(args.seeds, "--seeds"),
        split_seed=parse_ints(args.split_seed, "--split-seed")[0],
        method_params=method_params,
        task_params=task_params,
        skip_inapplicable=args.methods.strip() == "all",
    )
    specs = expand(grid)
    if note := left_out(grid):
        print(note, file=sys.stderr)
    return launch(specs, args)


def launch(specs: list, args: argparse.Namespace, settings: dict[str, str] | None = None) -> int:
    """Run the cells of `specs` as `run` does, with its flags in `args` (results, jobs, nproc, force, cluster,
    profile, cluster_param, detach, dry_run): on this machine, or through the cluster launcher; the exit
    code (1 when a cell failed, 2 when a task's data could not be prepared). `settings`: run id → a study's
    setting of the cell (tuned, defaults), the summary's variant names."""
    from bench.cell.spec import task_key
    from bench.cell.store import Store, results_root
    from bench.cell.sweep import plan, run_cells

    launcher = None
    if args.cluster != "none":
        from bench.cluster.launch import Launcher

        launcher = Launcher.prepare(args.cluster, args.profile, args.cluster_param, specs)
    store = Store(results_root(args.results))
    if launcher is None:
        check_limits(store, specs, args)
    if args.dry_run:
        print_grid(store, specs)
        for line in launcher.describe(specs) if launcher else []:
            print(line)
        return 0
    if launcher is None:
        check_local_device(specs)
    made = [p for p in (store.root, store.runs) if not p.exists()]
    store.ensure_writable()
    missing = {} if launcher else prepare_data(store, specs, args.force)
    specs = [s for s in specs if task_key(s) not in missing]
    if missing and not specs:  # nothing can run: the reasons, nothing written (the folders made go again)
        for path in reversed(made):
            path.rmdir()
        return report_missing(missing, ran=False)
    cells = plan(store, specs)
    if launcher:
        return run_on_cluster(launcher, store, cells, args, settings)
    states = run_cells(cells, jobs=args.jobs, force=args.force, nproc=args.nproc)
    code = print_outcome(cells, states, recorded_error, settings)
    return report_missing(missing, ran=True) or code


def recorded_error(cell) -> str:
    """Why a cell of this machine failed, as its status.json says (or that it could not say: a full disk)."""
    from bench.cell.states import FAILED
    from bench.cell.store import or_empty

    status = or_empty(cell.folder.status)
    if status.get("state") != FAILED:
        return "its failure could not be recorded in its folder (the line on stderr says why)"
    return f"{status.get('error')} (log: {cell.folder.file('log.txt')})"


def prepare_data(store, specs, force: bool) -> dict[str, str]:
    """Prepare each task's data once, here with its progress bars, before the cells that need it run;
    return task_key → the one-line reason for each task whose data could not be prepared (missing,
    unreadable, refused by the contamination guard): its cells are left out, the others run."""
    from bench.cell.faults import fault_line, is_fault
    from bench.cell.spec import task_key
    from bench.cell.states import DONE
    from bench.cell.store import RunFolder

    pending = [s for s in specs if force or RunFolder(store.runs / s.run_id()).state() != DONE]
    distinct = {task_key(s): s for s in pending}
    missing = {}
    for key, spec in distinct.items():
        try:
            registry.tasks().get(spec.task).create(spec.task_params).prepare()
        except BenchError as err:
            missing[key] = str(err)
        except OSError as err:
            if not is_fault(err):
                raise
            missing[key] = f"task {spec.task}: {fault_line(err)}"
    return missing


def report_missing(missing: dict[str, str], ran: bool) -> int:
    """One line per task setting left out for its data, on stderr (after the others `ran`, a line that
    says so); exit code 2 if any, else 0."""
    for reason in dict.fromkeys(missing.values()):
        print(f"error: {reason}", file=sys.stderr)
    if missing and ran:
        print(f"the other tasks ran; {len(missing)} task setting(s) left out for their data", file=sys.stderr)
    return 2 if missing else 0


def check_limits(store, specs: list, args: argparse.Namespace) -> None:
    """--jobs and --nproc against what this machine takes at once (bench/cell/limits.py), with the memory a
    worker takes from the done cells of these tasks in the results folder; ranks on CUDA against its GPUs."""
    import torch

    from bench.cell.limits import check_gpus, check_processes, worker_mb
    from bench.cell.store import CorruptFile, or_empty

    names, peaks = {s.task for s in specs}, []
    for folder in store.all_folders():
        try:
            if folder.spec().task in names:
                peaks.append(or_empty(folder.status).get("cost", {}).get("peak_mem_mb"))
        except CorruptFile:
            continue
    per_worker = worker_mb(peaks)
    if args.nproc > 1:
        check_processes(args.nproc, f"--nproc {args.nproc}", per_worker)
        on_cuda = torch.cuda.is_available() and any(s.task_params.get("device") != "cpu" for s in specs)
        if on_cuda:
            check_gpus(args.nproc, torch.cuda.device_count())
    if args.jobs is not None and args.jobs > 1:
        check_processes(min(args.jobs, len(specs)), f"--jobs {args.jobs}", per_worker)


def check_local_device(specs: list) -> None:
    """Cells to run on this machine that need a GPU (`device=cuda`, or `amp=fp16` on `device=auto`) when
    torch sees none here: refused, one line, before anything is written (a dry run plans them, and on a
    cluster the job's node decides)."""
    import torch

    if torch.cuda.is_available():
        return
    for spec in specs:
        p = spec.task_params
        if p.get("device") == "cuda":
            raise BenchError(
                f"task {spec.task}: device=cuda but torch sees no GPU on this machine; use device=auto or "
                "device=cpu, or --cluster with a profile that asks for GPUs"
            )
        if p.get("amp") == "fp16" and p.get("device") == "auto":
            raise BenchError(
                f"task {spec.task}: amp=fp16 needs a GPU (its grad scaler) and torch sees none on this "
                "machine; use amp=bf16 or amp=none, or --cluster with a profile that asks for GPUs"
            )


def check_cluster_flags(args: argparse.Namespace) -> None:
    """The flags of `run` that only make sense with, or without, --cluster."""
    if args.cluster == "none":
        for flag, given in [
            ("--profile", args.profile),
            ("--cluster-param", args.cluster_param),
            ("--detach", args.detach),
        ]:
            if given:
                raise BenchError(f"{flag} needs --cluster slurm, local or debug")
        return
    if args.jobs is not None:
        raise BenchError(
            f"--jobs runs cells on this machine; with --cluster {args.cluster} each cell is a job"
        )
    if args.detach and args.cluster == "debug":
        raise BenchError("--detach: --cluster debug runs the cells in this process, so it cannot detach")


def check_nproc(args: argparse.Namespace) -> None:
    """--nproc N: N ≥ 1; N > 1 runs one cell at a time on this machine: no --jobs > 1, no --cluster."""
    if args.nproc < 1:
        raise BenchError(f"--nproc {args.nproc}: give a positive number of ranks per cell")
    if args.nproc == 1:
        return
    if args.cluster != "none":
        raise BenchError(
            f"--nproc ranks run on this machine; with --cluster {args.cluster} set tasks_per_node in the "
            "profile (slurm/profiles/multi-gpu.yaml)"
        )
    if args.jobs is not None and args.jobs > 1:
        raise BenchError(f"--nproc {args.nproc} runs one cell at a time on {args.nproc} ranks: drop --jobs")


def run_on_cluster(launcher, store, cells, args: argparse.Namespace, settings: dict | None = None) -> int:
    """Submit the cells, then follow them to the end (or, with --detach, say how to)."""
    from bench.cell.states import DONE, FAILED
    from bench.cluster.follow import follow

    batches = launcher.submit(store, cells, force=args.force)
    if args.detach:
        print(f"follow with: python -m bench status --results {store.root}")
        return 0
    settled = follow(args.cluster, batches, cells, store.root)
    states = {run_id: DONE if s.state == DONE else FAILED for run_id, s in settled.items()}

    def why(cell) -> str:
        status = settled[cell.folder.run_id]
        return f"{status.reason} (log: {status.log})"

    return print_outcome(cells, states, why, settings)


def print_outcome(cells, states: dict[str, str], why: Callable, settings: dict | None = None) -> int:
    """The summary table (a study's cells under their `settings`), then cells left to another process and
    failed cells with `why(cell)`; the exit code."""
    import pandas as pd

    from bench.cell.collect import row
    from bench.cell.states import BUSY, DONE, FAILED
    from bench.cell.summary import summary_table

    placed = [c for c in cells if not any(e.path.name == "spec.json" for e in c.folder.unreadable())]
    table = pd.DataFrame([row(c.folder) for c in placed])  # not those whose folder went while they ran
    if settings and not table.empty:
        table["setting"] = [settings.get(c.folder.run_id, "") for c in placed]
    print(summary_table(table) if not table.empty else "(no finished runs)")
    busy = [c for c in cells if states[c.folder.run_id] == BUSY]
    ended = [c for c in busy if c.folder.state() != DONE and not c.folder.lock.held_elsewhere()]
    busy = [c for c in busy if c not in ended]
    failed = [c for c in cells if states[c.folder.run_id] == FAILED]
    for c in ended:  # the other process (a sibling sweep, killed) ended without finishing it
        print(f"FAILED {c.spec.label()}: the process that held it ended before it was done ({c.folder.path})")
    for c in busy:
        print(f"still running in another process: {c.spec.label()} ({c.folder.path})")
    for c in failed:
        gone = not c.folder.path.is_dir()
        reason = f"its run folder {c.folder.path} was deleted while the sweep ran" if gone else why(c)
        print(f"FAILED {c.spec.label()}: {reason}")
    if failed or ended:
        print(f"{len(failed) + len(ended)} of {len(cells)} runs failed", file=sys.stderr)
        return 1
    return 0


def print_grid(store, specs) -> None:
    from bench.cell.store import RunFolder

    counts: dict[str, int] = {}
    for spec in specs:
        run_id = spec.run_id()
        state = RunFolder(store.runs / run_id).state()  # pending when the folder is not there yet
        counts[state] = counts.get(state, 0) + 1
        print(f"{state:<11} {run_id}  {spec.label()}")
    print(f"{len(specs)} cells: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def cmd_exec(args: argparse.Namespace) -> int:
    import torch

    from bench.cell.cells import EXIT_BUSY
    from bench.cell.execute import execute
    from bench.cell.states import BUSY, DONE
    from bench.cell.store import RunFolder

    if args.threads:
        torch.set_num_threads(args.threads)
    state = execute(RunFolder(args.folder), force=args.force)
    return {DONE: 0, BUSY: EXIT_BUSY}.get(state, 1)


def cmd_worker(args: argparse.Namespace) -> int:
    from bench.cell.worker import serve

    return serve(threads=args.threads, parent=args.parent)


def cmd_data(args: argparse.Namespace) -> int:
    entry = registry.tasks().get(args.task)
    raw = parse_assignments(args.task_param, "--task-param")
    if args.source:
        raw["source"] = args.source
    task = entry.create(entry.resolve(raw))
    summary = task.prepare()
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0
