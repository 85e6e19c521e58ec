"""What `python -m bench COMMAND --help` says above and below the flags: a description of each visible
subcommand and examples to copy. The hidden subcommands (the processes the harness starts itself) have
none and stay out of the list."""

from __future__ import annotations

import argparse
import textwrap

HIDDEN = ("exec", "worker", "tune_worker")
WIDTH = 78  # descriptions are wrapped to it; examples are kept as written

# subcommand -> (description, examples)
DOCS: dict[str, tuple[str, str]] = {
    "list": (
        "Every registered method and task with its parameters, defaults and search ranges. Method\n"
        "parameters go to --method-param, task parameters (the training budget among them: steps,\n"
        "batch_size, lr, ...) to --task-param.",
        "python -m bench list",
    ),
    "run": (
        "Run the grid methods × tasks × pair ratios × seeds, one run folder per cell under\n"
        "<results>/runs/. Cells already done are skipped, failed or unfinished ones resume from their\n"
        "checkpoint. At the end, a summary of each task's primary metric (in %, mean ± std over seeds).\n"
        "\n"
        "Training parameters are task parameters, so that every method on a task gets the same budget:\n"
        "steps, lr, batch_size, paired_fraction, embed_dim, eval_every, checkpoint_every ... are set\n"
        "with --task-param (--task-param steps=100), never --method-param. `python -m bench list` shows\n"
        "which parameters belong to which.",
        "python -m bench run --methods clip,gentle_clip --tasks synthetic --pair-ratio 0.05,0.1 --seeds 0\n"
        "python -m bench run --methods all --tasks synthetic --task-param steps=100 --dry-run\n"
        "python -m bench run --methods gentle_clip --method-param w_sdd=0.5 --task-param batch_size=128\n"
        "python -m bench run --methods gentle_clip --method-param preset=gentle_clip-synthetic-r0.1\n"
        "python -m bench run --methods all --cluster slurm --profile slurm/profiles/local-ci.yaml",
    ),
    "status": (
        "One line per run folder: its state (done, running, pending, failed, pruned, interrupted), its\n"
        "cluster job and, for a failure, the reason and the log to read; then the counts.",
        "python -m bench status\npython -m bench status --results /scratch/me/results",
    ),
    "collect": (
        "Gather every run folder into one long table, <results>/results.parquet and results.csv:\n"
        "identity, parameters, metrics (as fractions, 0 to 1), cost and provenance columns.",
        "python -m bench collect --results results",
    ),
    "table": (
        "A paper table: methods as rows, (task, pair ratio) columns, mean ± std over seeds in percent,\n"
        "best in bold, second underlined, * where a method differs from the baseline (paired t-test,\n"
        "Holm-corrected). Tuning trials are left out.",
        "python -m bench table\n"
        "python -m bench table --tasks synthetic --format latex --standalone --out paper/table.tex\n"
        "python -m bench table --ablation --methods gentle_clip\n"
        "python -m bench table --columns metric --format csv",
    ),
    "plot": (
        "A seaborn figure: the metric against the pair ratio per method (ratio), the ablation bars\n"
        "(ablation) or the metric against wall time or GPU-hours (cost). The format comes from the\n"
        "suffix of --out (png, pdf, svg, ...); its folder is created.",
        "python -m bench plot\npython -m bench plot --kind ablation --out figures/ablation.pdf",
    ),
    "report": (
        "One self-contained HTML page: the tables, the figures embedded, every metric, the provenance\n"
        "and a link from every cell to the run folders it came from.",
        "python -m bench report\npython -m bench report --out site/index.html",
    ),
    "perf": (
        "Benchmarks against plain references. `perf losses` times forward + backward and the peak\n"
        "memory of every loss; `perf sweep` measures the cost of a sweep cell beyond its own training\n"
        "and evaluation, the worker pool of `run --jobs` against one process per cell; `perf train`\n"
        "times the harness's training step of each method, phase by phase (data wait, forward, loss,\n"
        "backward, optimiser), against a plain open_clip-style CLIP step on the same model and batch,\n"
        "offline (generated images, random weights), with its targets marked pass or fail.",
        "MALLOC_MMAP_THRESHOLD_=131072 python -m bench perf losses --threads 1\n"
        "python -m bench perf losses --batches 64,256 --json\n"
        "python -m bench perf sweep --cells 36 --jobs 2\n"
        "python -m bench perf train --task rs --encoder rs-tiny --mode finetune --batch-size 64 --steps 20\n"
        "python -m bench perf train --encoder RN50 --amp bf16 --device cuda --num-workers 4 --json\n"
        "python -m bench perf train --task synthetic --methods clip,gentle_clip --steps 50",
    ),
    "tune": (
        "An optuna study of a method's parameters on a validation split held out of the train pool (never\n"
        "the test split), with a median pruner. Every trial is a normal run folder; the best trial's\n"
        "parameters become the preset named after the study. The same --study name resumes a study\n"
        "with the same setup; another setup is refused with what differs. --metric must be a metric the\n"
        "task reports (checked before the first trial).",
        "python -m bench tune --method gentle_clip --task synthetic --pair-ratio 0.1 --trials 40\n"
        "python -m bench tune --method clip --task synthetic --trials 20 --task-param steps=200\n"
        "python -m bench tune --methods clip,gentle_clip --budget equal --trials 40\n"
        "python -m bench tune --method clip --task synthetic --trials 40 --cluster local --workers 2\n"
        "python -m bench tune --show\n"
        "python -m bench run --methods gentle_clip --method-param preset=gentle_clip-synthetic-r0.1",
    ),
    "study": (
        "A study file (studies/NAME.yaml): its tasks, methods, pair ratios, seeds and split seeds, an\n"
        "optional tuning budget and the report to make. `study run` checks the whole file (one line naming\n"
        "the file and the key on a mistake, nothing run), tunes every method on every task with the same\n"
        "number of trials (presets saved as `tune` saves them), runs the grid with the presets (and with\n"
        "the published defaults when the file asks) through run's launcher, and writes report.md,\n"
        "tables.tex and report.html with its figures to <results>/studies/NAME/. What is done stays done:\n"
        "a second call runs nothing, an interrupted one resumes. `study status` says what is left.",
        "python -m bench study run studies/smoke.yaml\n"
        "python -m bench study status studies/paper.yaml\n"
        "python -m bench study run studies/paper.yaml --jobs 2\n"
        "python -m bench study run studies/paper.yaml --cluster slurm --profile my-profile.yaml",
    ),
    "data": (
        "Prepare and cache a task's data (run does it on demand), with progress bars; prints what it\n"
        "prepared.",
        "python -m bench data protein\npython -m bench data protein --source debian:metastudent:5000",
    ),
}


def explain(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """Give every visible subcommand of `sub` its description (wrapped) and examples (as written), and
    leave the hidden ones out of `parser`'s list (argparse would print them as ==SUPPRESS==)."""
    sub._choices_actions = [a for a in sub._choices_actions if a.dest not in HIDDEN]
    parser.epilog = "python -m bench COMMAND --help says what COMMAND does, with examples to copy."
    for name, command in sub.choices.items():
        if name in HIDDEN:
            continue
        description, examples = DOCS[name]
        paragraphs = description.split("\n\n")
        command.description = "\n\n".join(textwrap.fill(" ".join(p.split()), WIDTH) for p in paragraphs)
        command.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples.splitlines())
        command.formatter_class = argparse.RawDescriptionHelpFormatter
