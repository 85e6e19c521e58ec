"""The shipped examples work: every profile under slurm/profiles/ loads and names only registered methods,
and every `python -m bench` command in the code blocks of README.md and docs/*.md is checked against the CLI.

Each command shown is parsed by the real parser (a synopsis with `[...]`, `a|b` or `...` has each of its
flags checked instead). Those that run offline in seconds are run for real, `run` as `--dry-run`, `list`,
and `collect`, `status`, `table`, `plot`, `report` on a tiny results folder; the others are named in
ELSEWHERE with the test that runs them (the SLURM cluster, tuning trials, benchmarks, the protein data).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bench import atomic, registry
from bench.cli.main import build_parser, main
from bench.cluster.profile import load_profile

from conftest import fast_args

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "slurm" / "profiles").glob("*.yaml"))
FENCE = re.compile(r"^\s*```")
COMMAND = re.compile(r"(?:^|\s|&&\s*)(?:\.venv/bin/)?python3? -m bench (.*)$")
SYNOPSIS = re.compile(r"\[|\||\.\.\.|…")
# subcommands run for real here (with --results pointing at a tiny folder)
RUN_HERE = {"list", "collect", "status", "table", "plot", "report"}
# what no test here runs: why, and the tests that run it (parsed above all the same)
ELSEWHERE = {
    "tune": ("trials take minutes", ["tests/test_tune.py", "tests/test_tune_slurm.py"]),
    "data": (
        "real data",
        ["tests/test_protein_pipeline.py", "tests/test_rs_data.py", "tests/test_vl_task.py"],
    ),
    "study": (
        "tuning and a grid: seconds for the smoke study, an hour for the paper's",
        ["tests/test_study.py"],
    ),
    "run --cluster slurm": ("needs the loopback cluster", ["tests/test_launch_slurm.py"]),
    "perf": (
        "a benchmark of minutes, run by hand; its references and small sizes are tested",
        ["tests/test_losses.py", "tests/test_perf_train.py"],
    ),
}


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_shipped_profile_loads_and_names_registered_methods(path):
    profile = load_profile(path)
    profile.check_methods(registry.methods().names())
    for method in profile.methods:
        assert profile.for_method(method) != profile


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_commands(pages: list[Path] = DOC_PAGES) -> list[str]:
    """The arguments after `python -m bench` of each command line in the pages' fenced code blocks (the
    README and the manual in docs/); a synopsis's indented continuation lines (`    [--flag ...]`) are
    joined to it."""
    out: list[str] = []
    for page in pages:
        out += page_commands(page.read_text(encoding="utf-8"))
    return out


def page_commands(text: str) -> list[str]:
    """The commands of one Markdown page, as doc_commands reads them."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            continue
        if out and line.startswith(" ") and line.strip().startswith("["):
            out[-1] += " " + line.split("  #")[0].strip()
            continue
        match = COMMAND.search(line)
        if match:
            out.append(match.group(1).split("  #")[0].split(" # ")[0].strip())
    return out


COMMANDS = doc_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 15 and {c.split()[0] for c in COMMANDS} >= RUN_HERE | {"run", "tune"}


def options(sub: str) -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {opt for a in action.choices[sub]._actions for opt in a.option_strings}


@pytest.mark.parametrize("command", COMMANDS)
def test_each_doc_command_parses(command):
    words = command.split()
    if SYNOPSIS.search(command):
        flags = {w.split("=")[0] for w in re.findall(r"--[a-z][a-z-]*", command)}
        assert flags <= options(words[0]), f"{command}: unknown flags {flags - options(words[0])}"
    else:
        build_parser().parse_args(shlex.split(command))  # exits 2 on an unknown flag or choice


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    results = tmp_path_factory.mktemp("tiny") / "results"
    base = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0,1", "--jobs", "1"]
    assert main([*base, "--results", str(results), *fast_args(steps="20")]) == 0
    return results


def runnable() -> list[str]:
    """The docs' commands that run here: each subcommand of RUN_HERE in its plain form, and every
    concrete `run` but those for the SLURM cluster."""
    plain = sorted({c.split()[0] for c in COMMANDS if c.split()[0] in RUN_HERE})
    runs = [c for c in COMMANDS if c.startswith("run ") and not SYNOPSIS.search(c) and "slurm" not in c]
    return plain + runs


@pytest.mark.parametrize("command", runnable())
def test_doc_command_runs_offline(command, tiny, tmp_path, capsys):
    argv = shlex.split(command)
    fresh = tmp_path / "fresh"
    for name in re.findall(r"--method-param preset=(\S+)", command):  # as `tune` leaves it
        method, task = name.split("-")[:2]
        body = {"method": method, "task": task, "method_params": {"w_sdd": 0.5}, "task_params": {}}
        (fresh / "presets").mkdir(parents=True, exist_ok=True)
        atomic.write_json(fresh / "presets" / f"{name}.json", body)
    if argv[0] == "run":
        argv += ["--dry-run", "--results", str(fresh)]
    elif argv[0] != "list":
        argv += ["--results", str(tiny)]
    if argv[0] in ("plot", "report"):
        argv += ["--out", str(tmp_path / ("figure.png" if argv[0] == "plot" else "page.html"))]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.strip()
    if argv[0] == "run":
        assert re.search(r"\d+ cells: \d+ pending", out) and not (fresh / "runs").exists()


def test_commands_not_run_here_are_run_elsewhere():
    for command in COMMANDS:
        sub = command.split()[0]
        key = "run --cluster slurm" if sub == "run" and "slurm" in command else sub
        assert key in RUN_HERE | {"run"} or key in ELSEWHERE, f"{command}: not run by any test"
    for _, tests in ELSEWHERE.values():
        assert all((ROOT / path).is_file() for path in tests), tests
