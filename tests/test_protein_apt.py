"""bench.apt: which Debian packages are missing, installing as root, a clear error otherwise."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bench import apt
from bench.errors import BenchError
from tasks.protein import Protein, debian, split

BLAST = ("metastudent-data", "ncbi-blast+")


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system (no dpkg-query)")
def test_missing_reports_absent_packages_only():
    assert apt.missing(["dpkg", "no-such-package-gentle-bench"]) == ["no-such-package-gentle-bench"]


def test_without_root_the_error_names_the_command_and_the_alternatives(monkeypatch):
    monkeypatch.setattr(apt, "missing", lambda packages: list(packages))
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    with pytest.raises(BenchError) as err:
        apt.ensure("protein", BLAST, "the source debian:metastudent", debian.OTHER_SOURCES)
    message = str(err.value)
    assert "\n" not in message
    assert "sudo apt-get install -y --no-install-recommends metastudent-data ncbi-blast+" in message
    assert "local:DIR" in message and "synthetic" in message


def test_as_root_it_updates_then_installs_noninteractively(monkeypatch):
    state = {"installed": False}
    calls = []

    def fake_run(cmd, env=None, **kwargs):
        calls.append((cmd, env.get("DEBIAN_FRONTEND")))
        if cmd[:2] == ["apt-get", "install"]:
            state["installed"] = True
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(apt, "missing", lambda packages: [] if state["installed"] else list(packages))
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    monkeypatch.setattr(apt.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(apt.subprocess, "run", fake_run)
    apt.ensure("protein", ["mmseqs2"], "the homology split", "or set split=random")
    assert calls == [
        (["apt-get", "update"], "noninteractive"),
        (["apt-get", "install", "-y", "--no-install-recommends", "mmseqs2"], "noninteractive"),
    ]


def test_a_failing_apt_get_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(apt, "missing", lambda packages: list(packages))
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    monkeypatch.setattr(apt.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(
        apt.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 100, "", "E: no network\n")
    )
    with pytest.raises(BenchError, match="apt-get update.*failed .E: no network.") as err:
        apt.ensure("protein", ["mmseqs2"], "the homology split", "or set split=random")
    assert "split=random" in str(err.value) and "\n" not in str(err.value)


def test_nothing_happens_when_all_are_installed(monkeypatch):
    monkeypatch.setattr(apt, "missing", lambda packages: [])
    monkeypatch.setattr(apt.subprocess, "run", lambda *a, **k: pytest.fail("apt-get must not run"))
    apt.ensure("protein", ["mmseqs2"], "the homology split", "or set split=random")


def test_a_package_the_task_does_not_declare_is_refused_before_apt_runs(monkeypatch):
    monkeypatch.setattr(apt, "missing", lambda packages: pytest.fail("nothing may be looked up"))
    with pytest.raises(
        BenchError, match="task protein asks for the Debian package.s. cowsay without declaring"
    ):
        apt.ensure("protein", ["mmseqs2", "cowsay"], "a joke", "or do without")


def test_what_ensure_checks_against_is_what_the_class_declares():
    assert apt.declared("protein") == Protein.debian_packages
    assert apt.declared("no-such-task") == ()


def test_the_protein_stages_ask_for_declared_packages_only(monkeypatch):
    asked = []
    monkeypatch.setattr(
        apt, "ensure", lambda task, packages, why, instead: asked.append((task, tuple(packages)))
    )
    monkeypatch.setattr(debian, "_files_present", lambda: False)
    with pytest.raises(BenchError, match="metastudent-data is installed but"):
        debian.ensure_installed()  # the fake ensure installs nothing, so the files are still absent
    monkeypatch.setattr(split.shutil, "which", lambda name: None)
    with pytest.raises(BenchError, match="needs the `mmseqs` program"):
        split.clusters(["MKV"], 0.3)
    assert asked == [("protein", BLAST), ("protein", ("mmseqs2",))]
    assert {name for _, packages in asked for name in packages} == set(Protein.debian_packages)
