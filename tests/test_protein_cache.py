"""bench.cache: entries built once, atomically; a half-built entry is never read and is rebuilt."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from bench import cache


@pytest.fixture(autouse=True)
def _cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def _writer(text: str, calls: list[str]):
    def build(folder: Path) -> None:
        calls.append(text)
        (folder / "data.txt").write_text(text)

    return build


def test_root_follows_env_and_key_order_does_not_matter(tmp_path):
    assert cache.root() == tmp_path / "cache"
    assert cache.path_of("x", {"a": 1, "b": 2}) == cache.path_of("x", {"b": 2, "a": 1})
    assert cache.path_of("x", {"a": 1}) != cache.path_of("x", {"a": 2})
    assert cache.path_of("protein records/a:b", {}).name.startswith("protein_records_a_b-")


def test_second_call_reuses_the_entry():
    calls: list[str] = []
    first = cache.entry("e", {"k": 1}, _writer("one", calls))
    mtime = (first / "data.txt").stat().st_mtime_ns
    again = cache.entry("e", {"k": 1}, _writer("two", calls))
    assert again == first and calls == ["one"]
    assert (again / "data.txt").read_text() == "one" and (again / "data.txt").stat().st_mtime_ns == mtime


def test_a_build_that_raises_leaves_nothing_and_is_rebuilt():
    def broken(folder: Path) -> None:
        (folder / "data.txt").write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.entry("e", {"k": 1}, broken)
    target = cache.path_of("e", {"k": 1})
    assert not target.exists() and not list(target.parent.glob(f".{target.name}.tmp-*"))
    calls: list[str] = []
    assert (cache.entry("e", {"k": 1}, _writer("ok", calls)) / "data.txt").read_text() == "ok"
    assert calls == ["ok"]


def _build_then_hang(root: str, started) -> None:
    os.environ["BENCH_CACHE"] = root

    def build(folder: Path) -> None:
        (folder / "data.txt").write_text("half")
        started.set()
        time.sleep(60)

    cache.entry("e", {"k": 1}, build)


def test_a_killed_build_is_detected_and_rebuilt():
    ctx = mp.get_context("fork")
    started = ctx.Event()
    proc = ctx.Process(target=_build_then_hang, args=(os.environ["BENCH_CACHE"], started))
    proc.start()
    assert started.wait(30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    target = cache.path_of("e", {"k": 1})
    assert not cache.is_complete(target) and list(target.parent.glob(f".{target.name}.tmp-*"))
    calls: list[str] = []
    folder = cache.entry("e", {"k": 1}, _writer("whole", calls))
    assert calls == ["whole"] and (folder / "data.txt").read_text() == "whole"
    assert not list(target.parent.glob(f".{target.name}.tmp-*"))


def test_a_final_folder_without_marker_is_rebuilt():
    target = cache.path_of("e", {"k": 1})
    target.mkdir(parents=True)
    (target / "data.txt").write_text("stale")
    calls: list[str] = []
    assert (cache.entry("e", {"k": 1}, _writer("fresh", calls)) / "data.txt").read_text() == "fresh"


def _count_build(root: str, log: str) -> None:
    os.environ["BENCH_CACHE"] = root

    def build(folder: Path) -> None:
        with open(log, "a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (folder / "data.txt").write_text("x")

    cache.entry("e", {"k": 1}, build)


def test_two_processes_build_one_entry_once(tmp_path):
    ctx = mp.get_context("fork")
    log = tmp_path / "builds.txt"
    procs = [ctx.Process(target=_count_build, args=(os.environ["BENCH_CACHE"], str(log))) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert log.read_text() == "built\n"


def test_tensors_round_trip_and_are_cached():
    calls = []

    def build():
        calls.append(1)
        return {"x": torch.arange(6).reshape(2, 3), "y": torch.ones(2, dtype=torch.float16)}

    first = cache.tensors("t", {"k": 1}, build)
    second = cache.tensors("t", {"k": 1}, build)
    assert calls == [1]
    assert torch.equal(first["x"], second["x"]) and second["y"].dtype == torch.float16
