"""The `perf` command: the losses against their plain references, the sweep's overhead, a training step
(bench/perf/)."""

from __future__ import annotations

import argparse
import json
import sys

from bench import registry
from bench.errors import BenchError
from bench.params import parse_assignments


def cmd_perf(args: argparse.Namespace) -> int:
    if args.threads < 0:
        raise BenchError(f"--threads {args.threads}: give a number of torch threads, or 0 for torch's choice")
    if args.what == "train":
        return perf_train(args)
    if args.what == "sweep":
        from bench.perf.sweep import format_table as sweep_table
        from bench.perf.sweep import measure as measure_sweep

        steps = 50 if args.steps is None else args.steps
        sweep_records = measure_sweep(cells=args.cells, jobs=args.jobs, steps=steps)
        print(json.dumps(sweep_records, indent=1) if args.json else sweep_table(sweep_records))
        return 0
    from bench.cell.grid import parse_ints
    from bench.perf.losses import format_table, measure

    batches = tuple(parse_ints(args.batches, "--batches"))
    if min(batches) < 2:
        raise BenchError(f"--batches {args.batches}: give batch sizes of at least 2 rows")
    if max(batches) >= 1024:
        print("note: the plain reference needs about 10 GB at batch 1024", file=sys.stderr)
    records = measure(batches=batches, threads=args.threads or None)
    print(json.dumps(records, indent=1) if args.json else format_table(records))
    return 0


def perf_train(args: argparse.Namespace) -> int:
    """`perf train`: the flags that name a task parameter set it, --task-param any other."""
    from bench.cell.grid import parse_names, parse_ratios
    from bench.perf.train import format_table, measure

    flags = {
        "encoder": args.encoder,
        "mode": args.mode,
        "batch_size": args.batch_size,
        "amp": args.amp,
        "device": args.device,
        "num_workers": args.num_workers,
    }
    params = {k: v for k, v in flags.items() if v is not None} | parse_assignments(
        args.task_param, "--task-param"
    )
    ratios = parse_ratios(args.pair_ratio)
    if len(ratios) != 1:
        raise BenchError(f"--pair-ratio {args.pair_ratio}: give one pair ratio")
    report = measure(
        task=registry.tasks().get(args.task).name,
        methods=tuple(parse_names(args.methods, registry.methods())),
        params=params,
        steps=20 if args.steps is None else args.steps,
        warmup=args.warmup,
        pair_ratio=ratios[0],
        threads=args.threads or None,
    )
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    return 0
