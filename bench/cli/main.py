"""Command line: `python -m bench <command>`: the parser and the table of commands (COMMANDS: each name to
the function that runs it, in its family's module). Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable

from bench.cli import perf, results, run, study, tune
from bench.cli.help import explain
from bench.errors import BenchError

# each command's function: it takes the parsed arguments and returns the exit code
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": run.cmd_list,
    "run": run.cmd_run,
    "data": run.cmd_data,
    "exec": run.cmd_exec,
    "worker": run.cmd_worker,
    "status": results.cmd_status,
    "collect": results.cmd_collect,
    "table": results.cmd_table,
    "plot": results.cmd_plot,
    "report": results.cmd_report,
    "perf": perf.cmd_perf,
    "tune": tune.cmd_tune,
    "tune_worker": tune.cmd_tune_worker,
    "study": study.cmd_study,
}

DEFAULT_TASK = "protein"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="gentle-bench: semi-supervised alignment sweeps"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="every method and task with its parameters and defaults")

    run = sub.add_parser("run", help="run a grid of methods × tasks × pair ratios × seeds")
    run.add_argument("--methods", default="all", help="'all' or a comma list (default: all)")
    run.add_argument("--tasks", default=DEFAULT_TASK, help=f"comma list of tasks (default: {DEFAULT_TASK})")
    run.add_argument("--pair-ratio", default="0.1", help="comma list of pair ratios in [0, 1] (default: 0.1)")
    run.add_argument("--seeds", default="0,1,2", help="comma list of train seeds (default: 0,1,2)")
    run.add_argument("--split-seed", default="0", help="seed of the paired subset (default: 0)")
    run.add_argument(
        "--method-param", action="append", default=[], metavar="K=V", help="[method.]k=v, repeatable"
    )
    run.add_argument(
        "--task-param",
        action="append",
        default=[],
        metavar="K=V",
        help="[task.]k=v, repeatable; the training budget is here: steps, lr, batch_size "
        "(--task-param steps=100)",
    )
    add_results(run)
    run.add_argument(
        "--jobs",
        type=int,
        help="cells at once, in N long-lived worker processes with cores/N torch threads each (a task's "
        "data loaded once per worker); 1 runs them in this process (default: one per core)",
    )
    run.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="ranks per cell: each cell trains data-parallel on N processes of this machine (gloo on the "
        "CPU, one GPU each on CUDA), one cell at a time (default: 1)",
    )
    run.add_argument("--force", action="store_true", help="redo every cell, done ones included")
    run.add_argument(
        "--cluster",
        default="none",
        choices=["none", "slurm", "local", "debug"],
        help="run the cells as submitit jobs: on SLURM, as local processes, or in this process for "
        "debugging (default: none, this machine without submitit)",
    )
    run.add_argument("--profile", metavar="FILE", help="YAML of what each job asks for (slurm/README.md)")
    run.add_argument(
        "--cluster-param",
        action="append",
        default=[],
        metavar="K=V",
        help="override a profile key, repeatable",
    )
    run.add_argument(
        "--detach", action="store_true", help="return once submitted; follow with `python -m bench status`"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print the grid with each cell's state; run nothing"
    )

    exe = sub.add_parser("exec", help=argparse.SUPPRESS)
    exe.add_argument("folder")
    exe.add_argument("--threads", type=int, default=0)
    exe.add_argument("--force", action="store_true")

    worker = sub.add_parser("worker", help=argparse.SUPPRESS)  # a sweep's worker: run folders on stdin
    worker.add_argument("--threads", type=int, default=0)
    worker.add_argument("--parent", type=int, help="pid of the sweep: the worker ends when it dies")

    status = sub.add_parser("status", help="each cell's state, its cluster job and, for failures, why")
    add_results(status)

    col = sub.add_parser("collect", help="gather every run folder into results.parquet and results.csv")
    add_results(col)

    table = sub.add_parser("table", help="a paper table: methods × (task, pair ratio), mean ± std over seeds")
    add_selection(table)
    table.add_argument("--format", default="md", choices=["md", "latex", "csv", "html"])
    table.add_argument("--columns", default="ratio", choices=["ratio", "metric"], help="column layout")
    table.add_argument(
        "--ablation",
        action="store_true",
        help="the method with ablations in the results (or the one of --methods) against them and controls",
    )
    table.add_argument("--standalone", action="store_true", help="LaTeX: a complete document that compiles")
    table.add_argument(
        "--spread",
        default="std",
        choices=["std", "ci"],
        help="after ±: the std over seeds, or the half-width of the 95%% t interval of the mean",
    )
    table.add_argument(
        "--published",
        default="results/reference/published.csv",
        metavar="FILE",
        help="published reference rows shown in italics where task, split and protocol match "
        "(default: the repository's results/reference/published.csv; none: leave them out)",
    )

    plot = sub.add_parser("plot", help="a seaborn figure of the results")
    add_selection(plot)
    plot.add_argument("--kind", default="ratio", choices=["ratio", "ablation", "cost"])

    report = sub.add_parser("report", help="one self-contained HTML page: tables, plots, provenance, links")
    add_selection(report)

    perf = sub.add_parser(
        "perf",
        help="benchmarks: `perf losses` times every loss against a plain reference, `perf sweep` the "
        "worker pool of `run --jobs` against one process per cell, `perf train` the training step "
        "against a plain CLIP step",
    )
    perf.add_argument("what", choices=["losses", "sweep", "train"])
    perf.add_argument("--cells", type=int, default=36, help="sweep: synthetic cells (default: 36)")
    perf.add_argument("--jobs", type=int, default=2, help="sweep: cells at once (default: 2)")
    perf.add_argument(
        "--steps",
        type=int,
        help="sweep: training steps per cell (default: 50); train: timed steps of each (default: 20)",
    )
    perf.add_argument(
        "--json", action="store_true", help="print JSON: a record per measurement (train: one report)"
    )
    perf.add_argument(
        "--batches", default="64,256,1024", help="losses: comma list of batch sizes (default: 64,256,1024)"
    )
    perf.add_argument("--threads", type=int, default=0, help="torch threads (default: as torch chooses)")
    add_perf_train(perf)

    add_tune(sub)
    add_study(sub)

    data = sub.add_parser("data", help="prepare and cache a task's data")
    data.add_argument("task")
    data.add_argument("--task-param", action="append", default=[], metavar="K=V")
    data.add_argument("--source", help="shorthand for --task-param source=S")
    explain(parser, sub)
    return parser


def add_perf_train(perf: argparse.ArgumentParser) -> None:
    """The flags of `perf train`; each given one sets the task parameter of its name (default: the task's,
    over the offline settings of bench/perf/train.py)."""
    perf.add_argument(
        "--task",
        default="rs",
        help="train: task (default: rs, offline: generated images, random weights; another task with its "
        "own defaults and --task-param)",
    )
    perf.add_argument(
        "--methods",
        default="clip,gentle_clip",
        help="train: comma list of methods (default: clip,gentle_clip)",
    )
    perf.add_argument("--encoder", help="train: the task's encoder (rs: an open_clip model, default rs-tiny)")
    perf.add_argument("--mode", help="train: the task's mode, finetune (rs's default here) or frozen")
    perf.add_argument("--batch-size", help="train: rows per batch (default: the task's, 64)")
    perf.add_argument("--amp", help="train: none (default), bf16 or fp16")
    perf.add_argument("--device", help="train: auto (default), cpu or cuda")
    perf.add_argument("--num-workers", help="train: loader workers (default: -1, from the CPU count)")
    perf.add_argument("--warmup", type=int, default=3, help="train: untimed steps of each first (default: 3)")
    perf.add_argument("--pair-ratio", default="0.1", help="train: pair ratio r (default: 0.1)")
    perf.add_argument(
        "--task-param",
        action="append",
        default=[],
        metavar="K=V",
        help="train: any task parameter, repeatable",
    )


def add_tune(sub) -> None:
    tune = sub.add_parser("tune", help="optuna search of a method's parameters on a validation split")
    tune.add_argument("--method", help="method to tune")
    tune.add_argument(
        "--methods", help="comma list of methods, each tuned with --trials (needs --budget equal)"
    )
    tune.add_argument("--budget", choices=["equal"], help="equal: every method gets the same --trials")
    tune.add_argument("--task", default=DEFAULT_TASK, help=f"task (default: {DEFAULT_TASK})")
    tune.add_argument("--pair-ratio", default="0.1", help="pair ratio (default: 0.1)")
    tune.add_argument(
        "--trials",
        type=int,
        help="required (but with --show): trials to add to the study, per method, shared among --workers; "
        "a study of the same name keeps the trials it has and adds these",
    )
    tune.add_argument("--params", help="comma list of parameters to search (default: the method's ranges)")
    tune.add_argument("--metric", help="validation metric, without val_ (default: the task's primary metric)")
    tune.add_argument("--study", help="study name (default: METHOD-TASK-rRATIO); the same name resumes it")
    tune.add_argument("--storage", help="optuna database URL (default: <results>/studies/NAME.log journal)")
    tune.add_argument(
        "--cluster", default="none", choices=["none", "local", "slurm"], help="where workers run"
    )
    tune.add_argument("--profile", metavar="FILE", help="--cluster slurm: YAML of what each worker asks for")
    tune.add_argument(
        "--cluster-param", action="append", default=[], metavar="K=V", help="override a profile key"
    )
    tune.add_argument("--workers", type=int, default=1, help="workers sharing the study (default: 1)")
    tune.add_argument(
        "--split-seed", type=int, default=0, help="seed of the split and the validation hold-out"
    )
    tune.add_argument("--seed", type=int, default=0, help="train seed of every trial (default: 0)")
    tune.add_argument("--method-param", action="append", default=[], metavar="K=V", help="fixed, repeatable")
    tune.add_argument("--task-param", action="append", default=[], metavar="K=V", help="fixed, repeatable")
    tune.add_argument("--show", action="store_true", help="print the study (or all), write its plots")
    add_results(tune)

    worker = sub.add_parser("tune_worker", help=argparse.SUPPRESS)
    worker.add_argument("config")
    worker.add_argument("trials", type=int)
    worker.add_argument("--index", type=int, default=0)


def add_study(sub) -> None:
    study = sub.add_parser(
        "study", help="a study file: tune, run its grid and write its report; or its status"
    )
    study.add_argument("action", choices=["run", "status"], help="run: do what is left; status: say it")
    study.add_argument("file", help="the study file, studies/NAME.yaml")
    add_results(study)
    study.add_argument(
        "--jobs",
        type=int,
        help="cells (and tuning studies) at once in worker processes, as in run (default: one per core)",
    )
    study.add_argument(
        "--cluster",
        default="none",
        choices=["none", "slurm", "local", "debug"],
        help="where the cells and the tuning workers run, as in run (default: this machine)",
    )
    study.add_argument("--profile", metavar="FILE", help="--cluster slurm: YAML of what each job asks for")
    study.add_argument(
        "--cluster-param", action="append", default=[], metavar="K=V", help="override a profile key"
    )


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="results folder (default: $BENCH_RESULTS or ./results)")


OUT_HELP = {
    "table": "file to write the table to (default: print it)",
    "plot": "image file to write, its suffix the format (default: <results>/figures/KIND.png)",
    "report": "HTML file to write (default: <results>/report.html)",
}


def add_selection(p: argparse.ArgumentParser) -> None:
    add_results(p)
    p.add_argument("--metric", help="metric to show (default: each task's primary metric)")
    p.add_argument("--tasks", help="comma list of tasks (default: all in the results)")
    p.add_argument("--methods", help="comma list of methods (default: all in the results)")
    p.add_argument("--names", help="YAML or JSON file mapping method/task/metric names to display names")
    p.add_argument("--out", help=OUT_HELP[p.prog.split()[-1]])
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="K=V",
        help="only runs with parameter K (steps, p_task_steps, code_version) = V, repeatable",
    )
    p.add_argument(
        "--all-versions",
        action="store_true",
        help="include runs of an older code version (left out by default)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        from bench.cell.faults import fault_line, is_fault

        if not is_fault(err):
            raise
        print(f"error: {fault_line(err)}", file=sys.stderr)
        return 1 if err.errno in (errno.ENOSPC, errno.EDQUOT) else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)  # not a run state: what Ctrl-C prints
        return 130
