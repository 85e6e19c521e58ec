"""Grid expansion: the cross product, in a stable order, with parameters routed to their owners."""

import pytest

from bench.cell.grid import Grid, expand, parse_ints, parse_ratios
from bench.errors import BenchError


def grid(**kw) -> Grid:
    base = dict(methods=["clip"], tasks=["synthetic"], ratios=[0.1], seeds=[0])
    return Grid(**{**base, **kw})


def test_cross_product_and_order():
    specs = expand(grid(ratios=[0.05, 0.1], seeds=[0, 1, 2]))
    assert [(s.pair_ratio, s.seed) for s in specs] == [(r, s) for r in (0.05, 0.1) for s in (0, 1, 2)]
    assert len({s.run_id() for s in specs}) == 6


def test_params_are_full_and_typed():
    (s,) = expand(grid(task_params={"steps": "7"}, method_params={"learn_temperature": "false"}))
    assert s.task_params["steps"] == 7 and s.task_params["n_train"] == 2000
    assert s.method_params["learn_temperature"] is False


def test_scoped_parameter_goes_to_its_owner_only():
    (s,) = expand(grid(method_params={"clip.temperature": "0.05"}))
    assert s.method_params["temperature"] == 0.05


def test_run_id_is_stable_and_sensitive():
    (a,), (b,) = expand(grid()), expand(grid())
    assert a.run_id() == b.run_id()
    (c,) = expand(grid(split_seed=1))
    assert c.run_id() != a.run_id()
    assert a.run_id(code="other") != a.run_id()


def test_ratio_and_seed_parsing():
    assert parse_ratios("0,0.5,1,0.5") == [0.0, 0.5, 1.0]
    assert parse_ints("2,0,2", "--seeds") == [2, 0]
    with pytest.raises(BenchError):
        parse_ratios("1.01")
