"""The set-up installs the Debian packages the tasks declare: it reads them from the sources with `ast`."""

from __future__ import annotations

import pytest

from bench import bootstrap, registry


def _declared() -> set[str]:
    return {name for entry in registry.tasks().entries.values() for name in entry.cls.debian_packages}


def test_the_bootstrap_collects_exactly_what_the_task_classes_declare():
    collected = bootstrap.task_packages()
    assert len(collected) == len(set(collected))
    assert set(collected) == _declared()
    assert _declared(), "some task declares Debian packages, so this compares something"


def test_every_declaration_is_a_tuple_of_names():
    for entry in registry.tasks().entries.values():
        packages = entry.cls.debian_packages
        assert isinstance(packages, tuple) and all(isinstance(p, str) and p for p in packages), entry.name


def _tree(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        path = tmp_path / "tasks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_class_bodies_only_annotated_or_not_in_file_order_each_once(tmp_path):
    root = _tree(
        tmp_path,
        {
            "a.py": 'debian_packages = ("module-level",)\nclass A:\n    debian_packages = ("x", "y")\n',
            "b/__init__.py": (
                "from typing import ClassVar\n"
                "class B:\n"
                '    debian_packages: ClassVar[tuple[str, ...]] = ("y", "z")\n'
                "    def f(self):\n"
                '        debian_packages = ("in-a-function",)\n'
                "class C:\n"
                "    debian_packages: ClassVar[tuple[str, ...]]\n"
            ),
        },
    )
    assert bootstrap.task_packages(root) == ("x", "y", "z")


@pytest.mark.parametrize("value", ["PACKAGES", '["a", "b"]', '("a", 3)', '("",)'])
def test_a_declaration_that_is_no_literal_tuple_of_names_stops_the_setup(tmp_path, value):
    root = _tree(tmp_path, {"bad.py": f"class Bad:\n    name = 'bad'\n    debian_packages = {value}\n"})
    with pytest.raises(SystemExit, match=r"tasks/bad.py:3: debian_packages must be a literal tuple"):
        bootstrap.task_packages(root)
