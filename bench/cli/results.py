"""The commands that read the run folders: `status` (each cell's state) and `collect` (the results table),
and the paper commands (`table`, `plot`, `report`) on the table collected from them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import atomic
from bench.cli.outfile import check_figure_name, writable
from bench.errors import BenchError


def runs_table(args: argparse.Namespace):
    """The collected table of the results folder, narrowed by --where and to the current code version
    (unless --all-versions; the runs left out are counted on stderr); a BenchError when it holds no run."""
    from bench.cell.collect import collect
    from bench.cell.store import Store, results_root
    from bench.report.frame import select

    store = Store(results_root(args.results))
    df = collect(store)
    if df.empty:
        raise BenchError(f"no runs under {store.runs}; run some first with `python -m bench run`")
    df, old = select(df, getattr(args, "where", ()) or (), getattr(args, "all_versions", False))
    if old:
        print(
            f"note: {old} run(s) of an older code version left out; pass --all-versions to include them",
            file=sys.stderr,
        )
    return df, store.root


def selection(args: argparse.Namespace) -> dict:
    split = lambda text: [x.strip() for x in text.split(",") if x.strip()] if text else None  # noqa: E731
    return {"metric": args.metric, "tasks": split(args.tasks), "methods": split(args.methods)}


def display_names(path: str | None) -> dict[str, str] | None:
    if not path:
        return None
    import yaml

    from bench.yamlfile import load_text

    try:
        names = load_text(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise BenchError(f"--names {path}: cannot read it as YAML or JSON ({err})") from None
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise BenchError(f"--names {path}: expected a mapping of name: display name")
    return {str(k): v for k, v in names.items()}


def published(args: argparse.Namespace):
    """The checked published rows of --published (the repository's file for its default: none where a
    copy of the code lacks it), or None."""
    from bench.report import published as rows

    if args.published == "none":
        return None
    if args.published == "results/reference/published.csv":
        return rows.load(rows.DEFAULT) if rows.DEFAULT.is_file() else None
    return rows.load(Path(args.published))


def cmd_table(args: argparse.Namespace) -> int:
    from bench.report import ablation_table, make_table, render

    df, _ = runs_table(args)
    sel, names = selection(args), display_names(args.names)
    if args.ablation:
        full = sel["methods"]
        if full is not None and len(full) != 1:
            raise BenchError(f"table --ablation --methods {args.methods}: name one method, the full one")
        table = ablation_table(
            df, sel["metric"], sel["tasks"], display=names, full=full and full[0], spread=args.spread
        )
    else:
        table = make_table(
            df, columns=args.columns, display=names, spread=args.spread, published=published(args), **sel
        )
    text = render(table, args.format, standalone=args.standalone)
    if args.out:
        atomic.write_text(writable(Path(args.out)), text)
        print(f"table → {args.out}")
    else:
        print(text)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.report import plot

    if args.out:
        check_figure_name(Path(args.out))
    df, root = runs_table(args)
    sel = selection(args)
    out = writable(Path(args.out or root / "figures" / f"{args.kind}.png"))
    plot(
        df,
        args.kind,
        out,
        sel["metric"],
        tasks=sel["tasks"],
        methods=sel["methods"],
        display=display_names(args.names),
    )
    print(f"figure → {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import write_report

    df, root = runs_table(args)
    out = writable(Path(args.out or root / "report.html"))
    path = write_report(df, out, root, metric=args.metric, display=display_names(args.names))
    print(f"report → {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bench.cell.status import cell_status, distinctions, format_line
    from bench.cell.store import Store, results_root
    from bench.cluster.jobfile import views

    store = Store(results_root(args.results))
    folders = sorted(store.readable_folders(), key=lambda f: f.spec().canonical())
    if not folders:
        raise BenchError(f"no runs under {store.runs}; run some with `python -m bench run`")
    counts: dict[str, int] = {}
    jobs = views(folders)  # one scheduler query for all SLURM cells
    distinct = distinctions(folders)  # what tells apart cells of the same method, task, ratio and seeds
    for folder in folders:
        status = cell_status(folder, jobs.get(folder.run_id))
        counts[status.state] = counts.get(status.state, 0) + 1
        print(format_line(folder, status, distinct.get(folder.run_id, "")))
    print(f"{len(folders)} cells: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from bench.cell.collect import collect, write_table
    from bench.cell.store import Store, results_root

    store = Store(results_root(args.results))
    df = collect(store)
    if df.empty:
        raise BenchError(f"no runs under {store.runs}; run some with `python -m bench run`")
    try:
        parquet, csv = write_table(df, store.root)
    except OSError as err:  # nothing half-written: each file is written atomically
        raise BenchError(
            f"cannot write results.parquet and results.csv in {store.root} ({err.strerror}); make the folder "
            "writable, or copy it to one that is (table, plot and report read it as it is)"
        ) from None
    states = df["state"].value_counts().to_dict()
    print(f"{len(df)} runs ({', '.join(f'{n} {s}' for s, n in states.items())}) → {parquet} and {csv}")
    return 0
