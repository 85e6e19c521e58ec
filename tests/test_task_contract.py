"""The task contract (tasks/base.py), checked on every registered task with its own smoke parameters:
it loads offline, its encoders and views have the shapes the harness relies on, one cell of it runs
through the harness to `done` with a finite primary metric, and `check` refuses bad parameters."""

from __future__ import annotations

import json
import math

import pytest
import torch

from bench import registry
from bench.cell.execute import execute
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.errors import BenchError
from bench.protocols import PROTOCOLS
from tasks.base import take

TASKS = registry.tasks().names()
# what the one cell asks of its task: paired and unpaired rows, and both modalities' views
ASKS = frozenset({"a_p", "b_p", "a_u", "b_u", "views_a", "views_b"})


def _method_asking_everything() -> str:
    """The first registered method that trains by steps and whose defaults embed everything in ASKS."""
    for name in registry.methods().names():
        entry = registry.methods().get(name)
        if not entry.cls.fits and entry.create(entry.resolve({})).embeddings() >= ASKS:
            return name
    raise AssertionError("no registered method trains on pairs, unpaired rows and views")


PAIRED_METHOD = _method_asking_everything()


def _values(name: str, **extra) -> dict:
    """Full parameters of task `name`: its smoke parameters (and `extra`) parsed as the CLI parses them."""
    entry = registry.tasks().get(name)
    raw = {**entry.cls.smoke_params, **extra}
    return entry.resolve({k: str(v) for k, v in raw.items()})


def _rows(encoder, x) -> torch.Tensor:
    encoder.eval()
    with torch.no_grad():
        return encoder(x)


@pytest.mark.parametrize("name", TASKS)
def test_declares_how_the_tables_show_it(name):
    entry = registry.tasks().get(name)
    about = entry.describe()
    assert about["label"] and about["label"] != name, f"{name} declares no display label"
    assert isinstance(about["order"], float | int)
    assert about["module"] == entry.cls.__module__ and about["module"].startswith("tasks.")
    assert about["primary_metric"] == entry.cls.primary_metric
    assert about["references"] == entry.cls.references
    assert all(isinstance(k, str) and "_" not in k and v for k, v in entry.cls.references.items())


@pytest.mark.parametrize("name", TASKS)
def test_presets_set_declared_parameters_to_valid_values(name):
    """Each preset names declared parameters (not `preset` itself) with values of their type, choices and
    range, and `preset=NAME` resolves to them where nothing else is given."""
    entry = registry.tasks().get(name)
    declared = entry.cls.declared_params()
    assert ("preset" in declared) == bool(entry.cls.presets)
    for preset, values in entry.cls.presets.items():
        assert set(values) <= set(declared) - {"preset"}, preset
        for key, value in values.items():
            assert type(value) is type(declared[key].default), (preset, key)
            declared[key].check(key, value, f"task {name}")
        resolved = entry.resolve({"preset": preset})
        assert {k: resolved[k] for k in values} == values


@pytest.mark.parametrize("name", TASKS)
def test_smoke_and_bad_params_are_declared_parameters(name):
    cls = registry.tasks().get(name).cls
    declared = cls.declared_params()
    assert cls.smoke_params and set(cls.smoke_params) <= set(declared)
    assert cls.bad_params and set(cls.bad_params) <= set(declared)
    assert cls.primary_metric


@pytest.mark.parametrize("name", TASKS)
def test_loads_with_encoders_and_views_of_the_declared_shapes_then_runs_one_cell(name, tmp_path):
    entry = registry.tasks().get(name)
    task = entry.create(_values(name))
    data = task.load()
    n = len(data)
    assert n >= 8 and len(data.train_b) == n
    enc_a, enc_b = task.encoders(data)
    assert isinstance(enc_a.out_dim, int) and isinstance(enc_b.out_dim, int)
    assert enc_a.out_dim > 0 and enc_b.out_dim > 0
    idx = torch.arange(4)
    for side, pool, encoder in (("a", data.train_a, enc_a), ("b", data.train_b, enc_b)):
        x = take(pool, idx)
        assert _rows(encoder, x).shape == (4, encoder.out_dim), side
        v1, v2 = task.views(side, x, torch.Generator().manual_seed(0))
        assert v1.shape == v2.shape and len(v1) == 4, side
        assert not torch.equal(v1, v2), f"the two {side} views are identical"
        for view in (v1, v2):
            z = _rows(encoder, view)
            assert z.shape == (4, encoder.out_dim) and torch.isfinite(z).all(), side
        w1, w2 = task.views(side, x, torch.Generator().manual_seed(0))
        assert torch.equal(v1, w1) and torch.equal(v2, w2), f"{side} views do not follow the generator"
    sets = data.about["eval_sets"]  # what the evaluation is made on, recorded with every run
    assert sets and json.loads(json.dumps(data.about)) == data.about
    for fields in sets.values():
        assert {"source", "split", "size"} <= set(fields) and fields["size"] > 0
    if data.b_ids is not None:  # one id per item, or one per alternative of a (N, m, ...) B pool
        assert data.b_ids.shape in ((n,), tuple(data.train_b.shape[:2]))
    if data.keyword_mask is not None:
        assert data.keyword_mask.shape[0] == n and data.keywords is not None

    method = registry.methods().get(PAIRED_METHOD)
    spec = RunSpec(PAIRED_METHOD, name, 0.5, 0, 0, method.resolve({}), task.p)
    folder = Store(tmp_path / "results").create(spec, spec.run_id())
    assert execute(folder) == "done", folder.status().get("error")
    metrics = folder.metrics()
    assert entry.cls.primary_metric in metrics
    assert math.isfinite(metrics[entry.cls.primary_metric])
    assert folder.status()["data"] == data.about
    assert folder.status()["metric_units"] == dict.fromkeys(metrics, "fraction")
    protocols = data.about["protocols"]  # how each metric was measured, with the run
    assert set(metrics) <= set(protocols), (
        f"metrics without a protocol: {sorted(set(metrics) - set(protocols))}"
    )
    assert all(protocols[m].get("protocol") in PROTOCOLS for m in metrics)
    references = {m.removeprefix("ref_").split("_")[0] for m in metrics if m.startswith("ref_")}
    assert references <= set(entry.cls.references), f"undeclared reference rows: {references}"
    assert any(m.endswith("align_cknna") for m in metrics) and any(m.endswith("align_mknn") for m in metrics)


@pytest.mark.parametrize("name", TASKS)
def test_declares_frozen_features_that_no_seed_or_mode_changes(name):
    """Task.frozen_features: a named module per modality from the encoder inputs to (n, out_dim) finite
    features, with no trainable parameter; built after two different torch seeds, and with the model
    around them in training mode, they give the same features (a closed-form fit has no train seed)."""
    task = registry.tasks().get(name).create(_values(name))
    data = task.load()
    idx = torch.arange(4)
    outputs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        encoders = task.frozen_features(data)
        rows = []
        for side, pool, encoder in zip("ab", (data.train_a, data.train_b), encoders, strict=True):
            assert isinstance(encoder.feature_name, str) and encoder.feature_name, side
            trainable = [p for p in encoder.parameters() if p.requires_grad]
            assert not trainable, f"{side}: frozen features with trainable parameters"
            encoder.train()
            with torch.no_grad():
                z = encoder(take(pool, idx))
            assert z.shape == (4, encoder.out_dim) and torch.isfinite(z).all(), side
            rows.append(z)
        outputs.append(rows)
    for first, second in zip(*outputs, strict=True):
        assert torch.equal(first, second)


@pytest.mark.parametrize("name", TASKS)
def test_check_refuses_a_bad_combination_in_one_line(name):
    entry = registry.tasks().get(name)
    for extra in (entry.cls.bad_params, {"steps": 0}):  # the task's own rule, then a common one
        with pytest.raises(BenchError, match=f"^task {name}: ") as err:
            entry.create(_values(name, **extra))
        assert "\n" not in str(err.value)
    with pytest.raises(BenchError, match=f"^task {name}: unknown parameter.*no_such_parameter"):
        entry.cls(no_such_parameter=1)
