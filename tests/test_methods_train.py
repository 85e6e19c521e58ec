"""Every method trains on `synthetic` at r = 0, 0.05 and 1 through the harness, and logs its terms."""

import math

import pytest

from bench import registry
from bench.store import Store

from helpers import run, spec

ALL = registry.methods().names()


def test_all_means_the_nine_methods():
    assert (
        sorted(
            ["clip", "clip_ssl", "hard_pl", "soft_pl", "s_clip", "gentle_clip"]
            + [f"gentle_clip_no_{x}" for x in ("sdd", "mmd", "ssl")]
        )
        == ALL
    )


@pytest.mark.parametrize("ratio", [0.0, 0.05, 1.0])
@pytest.mark.parametrize("method", ALL)
def test_method_trains_and_logs_its_terms(results, method, ratio):
    store = Store(results)
    s = spec(method, ratio, steps="20", checkpoint_every="0")
    assert run(store, [s]) == {s.run_id(): "done"}
    folder = store.folder(s.run_id())
    metrics = folder.metrics()
    assert all(math.isfinite(v) for v in metrics.values())
    log = folder.file("log.txt").read_text()
    entry = registry.methods().get(method)
    weights = entry.create(entry.resolve({})).weights()
    step_lines = [line for line in log.splitlines() if line.startswith("step ")]
    if ratio == 0 and entry.cls.needs_pairs:
        assert "needs pairs" in log and not step_lines
        assert folder.status()["cost"]["steps"] == 0
        return
    assert step_lines, log
    last = step_lines[-1]
    expected = {k for k, w in weights.items() if w} - {"kw"}  # synthetic has no keyword vocabulary
    if ratio == 0:
        expected -= {"clip", "pl"}  # no pairs
    if ratio == 1:
        expected -= {"pl"}  # no unpaired rows to pseudo-label
    for term in expected:
        assert f" {term}=" in last, (term, last)
    for term in set(weights) - expected:
        assert f" {term}=" not in last, (term, last)
