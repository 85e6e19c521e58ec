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


def plugins(tmp_path, monkeypatch, name: str, files: dict[str, str]) -> registry.Registry:
    """A method package `name` on the import path with `files` (module name → source)."""
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module, text in files.items():
        (pkg / f"{module}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return registry.Registry(name, Method, "method")


PARENT = (
    "from methods.base import Method\n\n"
    "class Parent(Method):\n"
    "    name = 'parent'\n    label = 'Parent'\n    order = 7\n    control_of = 'clip'\n    baseline = True\n"
)


def test_label_relations_and_order_inherit_as_python_attributes_do(tmp_path, monkeypatch):
    """A subclass that sets only its name and label has its parent's order and relations; a subclass of
    an unregistered base (no name) has the base's label; `baseline = False` ends the baseline."""
    child = (
        "from inh_a.parent import Parent\n\n"
        "class Child(Parent):\n    name = 'child'\n    label = 'Child'\n    baseline = False\n"
    )
    shared = (
        "from methods.base import Method\n\n"
        "class Shared(Method):\n    label = 'Shared'\n    order = 3\n\n"
        "class Only(Shared):\n    name = 'only'\n"
    )
    found = plugins(tmp_path, monkeypatch, "inh_a", {"parent": PARENT, "child": child, "shared": shared})
    about = {n: found.get(n).describe() for n in found.names()}
    assert about["child"]["order"] == 7 and about["child"]["control_of"] == "clip"
    assert about["child"]["label"] == "Child" and about["child"]["baseline"] is False
    assert about["parent"]["baseline"] is True
    assert about["only"]["label"] == "Shared" and about["only"]["order"] == 3


def test_a_subclass_that_keeps_its_parents_label_or_baseline_is_refused(tmp_path, monkeypatch):
    same_label = (
        "from inh_b.parent import Parent\n\nclass Child(Parent):\n    name = 'child'\n    baseline = False\n"
    )
    found = plugins(tmp_path, monkeypatch, "inh_b", {"parent": PARENT, "child": same_label})
    with pytest.raises(
        BenchError, match="parent and child are both shown as 'Parent' .*inherits it from Parent"
    ):
        found.names()
    two_bases = (
        "from inh_c.parent import Parent\n\nclass Child(Parent):\n    name = 'child'\n    label = 'Child'\n"
    )
    found = plugins(tmp_path, monkeypatch, "inh_c", {"parent": PARENT, "child": two_bases})
    with pytest.raises(BenchError, match="both the baseline .*set baseline = False in Child"):
        found.names()
