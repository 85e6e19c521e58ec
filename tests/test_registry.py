"""Registries: one file per entry, duplicates refused, `bench list` shows every parameter."""

import sys

import pytest

from bench import registry
from bench.cli.main import main
from bench.errors import BenchError
from methods.base import Method


def test_list_prints_every_method_and_task_with_parameters(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in registry.methods().names() + registry.tasks().names():
        assert f"\n  {name}" in out
    assert "primary metric: a2b_r1" in out
    assert "temperature = 0.07" in out and "steps = 600" in out


def test_duplicate_names_are_an_error(tmp_path, monkeypatch):
    pkg = tmp_path / "dupmethods"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    body = "from methods.base import Method\n\nclass {cls}(Method):\n    name = 'same'\n"
    (pkg / "one.py").write_text(body.format(cls="One"))
    (pkg / "two.py").write_text(body.format(cls="Two"))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BenchError, match="duplicate method name 'same'.*one.py and two.py"):
        registry.Registry("dupmethods", Method, "method").names()
    sys.modules.pop("dupmethods", None)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(BenchError, match="did you mean clip"):
        registry.methods().get("clap")
