"""Help that teaches: every visible subcommand has a description and examples that parse, the hidden ones
stay hidden, a parameter given to the wrong flag names the right one, and the summary after `run` shows
the unit and the numbers of `table`."""

from __future__ import annotations

import re
import shlex

import pytest

from bench.cli.help import DOCS, HIDDEN
from bench.cli.main import COMMANDS, build_parser, main

from conftest import fast_args


def subcommands() -> dict:
    action = next(a for a in build_parser()._actions if a.dest == "command")
    return action.choices


VISIBLE = sorted(set(subcommands()) - set(HIDDEN))


def test_the_table_of_commands_holds_exactly_the_parser_s_subcommands():
    assert set(COMMANDS) == set(subcommands())
    assert all(callable(run) for run in COMMANDS.values())


def test_every_visible_subcommand_is_documented():
    assert set(DOCS) == set(VISIBLE) and len(VISIBLE) >= 10


@pytest.mark.parametrize("name", VISIBLE)
def test_help_has_a_description_and_examples_that_parse(name, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    description = DOCS[name][0].split()[:6]
    assert " ".join(description) in " ".join(text.split())
    assert "\nexamples:\n" in text
    shown = text.split("\nexamples:\n", 1)[1].splitlines()
    examples = [line.split("python -m bench ", 1)[1] for line in shown if "python -m bench " in line]
    assert any(e.split()[0] == name for e in examples), examples
    for example in examples:
        build_parser().parse_args(shlex.split(example))  # SystemExit 2 on an unknown flag or choice


def test_hidden_subcommands_stay_hidden_and_work(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "SUPPRESS" not in text and "COMMAND --help" in text
    listed = re.findall(r"^    (\w+)", text, flags=re.M)
    assert set(listed) == set(VISIBLE)
    for name in HIDDEN:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0


def test_run_help_says_the_training_budget_is_task_parameters(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Training parameters are task parameters" in text
    assert "steps, lr, batch_size" in text and "--task-param steps=100" in text


@pytest.mark.parametrize(
    "flag, value, message",
    [
        (
            "--method-param",
            "steps=100",
            "--method-param steps=100: steps is a task parameter: use --task-param steps=100",
        ),
        (
            "--method-param",
            "clip.batch_size=32",
            "batch_size is a task parameter: use --task-param batch_size=32",
        ),
        (
            "--task-param",
            "temperature=0.1",
            "--task-param temperature=0.1: temperature is a method parameter: "
            "use --method-param temperature=0.1",
        ),
        ("--method-param", "stepz=100", "unknown parameter 'stepz'"),
    ],
)
def test_a_parameter_given_to_the_wrong_flag_names_the_right_one(flag, value, message, tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results), flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not results.exists()


def test_the_run_summary_shows_percent_as_the_table_does(tmp_path, capsys):
    results = tmp_path / "results"
    base = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0,1", "--jobs", "1"]
    assert main([*base, "--results", str(results), *fast_args(steps="20")]) == 0
    summary = capsys.readouterr().out
    assert "primary metric in %" in summary and "Synthetic (A→B R@1), r = 0.1" in summary  # as table does
    cell = re.search(r"CLIP\s+(\d+\.\d ± \d+\.\d) \(2\)", summary)
    assert cell, summary
    assert main(["table", "--results", str(results)]) == 0
    table = capsys.readouterr().out
    assert "(%)" in table and f"| {cell.group(1)} |" in table
