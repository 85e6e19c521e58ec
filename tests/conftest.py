"""Shared fixtures: offline hubs, a private cache, and a small, fast synthetic grid."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Small enough that one run takes well under a second on 2 cores.
FAST = {"steps": "60", "n_train": "300", "n_test": "100", "width": "64", "checkpoint_every": "20"}


def fast_args(**extra: str) -> list[str]:
    """--task-param arguments for a fast synthetic run."""
    params = {**FAST, **extra}
    return [arg for k, v in params.items() for arg in ("--task-param", f"{k}={v}")]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))  # load_dataset's Arrow copies
    monkeypatch.delenv("BENCH_RESULTS", raising=False)


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results"
