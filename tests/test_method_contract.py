"""Properties every registered method has, checked over the registry (as benchopt's solver tests):
a new method file is tested here with no edit. Its own formula gets a test of its own. A closed-form
method (no terms, no step) is held to what applies to it: it runs on synthetic and the default task, fits, and
reports its fit as its cost."""

import math

import pytest
import torch
from method_batches import create, make_batch

from bench import registry
from bench.cell.grid import Grid, expand, inapplicable, left_out
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.cli.main import DEFAULT_TASK
from bench.errors import BenchError
from methods.base import EMBEDDINGS, FEATURES

from conftest import FAST
from helpers import run, spec

NAMES = registry.methods().names()
SHAPES = [(4, 6), (0, 6), (4, 0)]  # (b_p, b_u): a mixed batch, no pairs (r = 0), no unpaired rows (r = 1)


def weight_params(name: str) -> dict[str, str]:
    """term → its weight parameter, for the terms whose weight the user may set (`w_<term>`)."""
    entry = registry.methods().get(name)
    weights = create(name).weights()
    return {t: f"w_{t}" for t in weights if f"w_{t}" in entry.params and f"w_{t}" not in entry.fixed}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", NAMES)
def test_terms_are_finite_scalars_of_nonzero_weight_with_finite_gradients(name, shape):
    method = create(name)
    batch, rec = make_batch(*shape, keywords=True)
    terms = method.terms(batch)
    weights = method.weights()
    assert set(terms) <= set(weights)
    assert all(weights[k] != 0 for k in terms), "a term of weight 0 was computed"
    for value in terms.values():
        assert value.ndim == 0 and torch.isfinite(value)
    total, logged = method.loss(batch)
    assert set(logged) == set(terms)
    if total is None:
        assert not terms
        return
    total.backward()
    grads = [x.grad for x in rec.leaves() if x.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_with_no_pairs_a_method_trains_only_if_it_says_it_can(name):
    """A closed-form method has no terms at all: one that needs no pairs fits at r = 0 instead (the run
    test below checks its fit there)."""
    batch, _ = make_batch(0, 6, keywords=True)
    terms = create(name).terms(batch)
    cls = registry.methods().get(name).cls
    if cls.needs_pairs or cls.closed_form:
        assert terms == {}
    else:
        assert terms, f"{name} says it needs no pairs but computes nothing without them"


@pytest.mark.parametrize("name", NAMES)
def test_a_weight_set_to_zero_removes_its_term(name):
    batch_terms = set(create(name).terms(make_batch(4, 6, keywords=True)[0]))
    for term, param in weight_params(name).items():
        if term not in batch_terms:
            continue
        terms = create(name, **{param: 0.0}).terms(make_batch(4, 6, keywords=True)[0])
        assert term not in terms, f"{name}: {param}=0 still computes {term}"


@pytest.mark.parametrize("name", NAMES)
def test_declares_how_the_tables_show_it(name):
    entry = registry.methods().get(name)
    about = entry.describe()
    assert about["label"] and about["label"] != name, f"{name} declares no display label"
    assert isinstance(about["order"], float | int)
    assert about["module"] == entry.cls.__module__ and about["module"].startswith("methods.")
    names = registry.methods().names()
    for relation in ("ablation_of", "control_of"):
        assert about[relation] is None or about[relation] in names
    if about["ablation_of"]:
        assert entry.fixed, "an ablation fixes some parameter of its method"
        full = registry.methods().get(about["ablation_of"])
        assert full.describe()["order"] < about["order"], "an ablation is listed after its method"


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_help_and_a_sane_range(name):
    for key, p in registry.methods().get(name).params.items():
        assert p.help, key
        if p.low is not None:
            assert p.low < p.high and (not p.log or p.low > 0), key
            assert isinstance(p.default, float | int) and not isinstance(p.default, bool), key


def smoke_task(task: str, **extra: str):
    """Task `task` with its smoke parameters (and `extra`), as the CLI would resolve them."""
    entry = registry.tasks().get(task)
    return entry.create(entry.resolve({k: str(v) for k, v in {**entry.cls.smoke_params, **extra}.items()}))


def refused_where_it_does_not_apply(name: str, task: str, **task_raw: str) -> bool:
    """Whether `name` does not apply to `task` (its `requires`); if so, naming it for that task is refused
    in one line that names the method, the task and what is missing, before anything is written."""
    t = registry.tasks().get(task)
    why = inapplicable(registry.methods().get(name), t.create(t.resolve(task_raw)))
    if why is None:
        return False
    with pytest.raises(BenchError, match=f"^method {name} does not apply to task {task}: ") as err:
        expand(Grid([name], [task], [0.1], [0], task_params=task_raw))
    assert "\n" not in str(err.value) and all(
        need in str(err.value) for need in registry.methods().get(name).cls.requires
    )
    skipped = Grid([name], [task], [0.1], [0], task_params=task_raw, skip_inapplicable=True)
    assert expand(skipped) == [] and name in left_out(skipped)
    return True


def applicable_task(name: str) -> str:
    """The first task (default task first) whose smoke setting gives what `name` requires."""
    entry = registry.methods().get(name)
    for task in [DEFAULT_TASK, *registry.tasks().names()]:
        if inapplicable(entry, smoke_task(task)) is None:
            return task
    raise AssertionError(f"no task's smoke setting gives what {name} requires: {sorted(entry.cls.requires)}")


@pytest.mark.parametrize("ratio", [0.0, 0.01, 0.1, 1.0])
@pytest.mark.parametrize("name", NAMES)
def test_trains_on_synthetic_and_logs_finite_terms_of_nonzero_weight(results, name, ratio):
    if refused_where_it_does_not_apply(name, "synthetic", **FAST):
        return  # it runs where it applies: test_runs_on_the_default_task
    store = Store(results)
    s = spec(name, ratio, steps="20", checkpoint_every="0")
    assert run(store, [s]) == {s.run_id(): "done"}
    folder = store.folder(s.run_id())
    assert all(math.isfinite(v) for v in folder.metrics().values())
    entry = registry.methods().get(name)
    weights = create(name).weights()
    log = folder.file("log.txt").read_text()
    steps = [line for line in log.splitlines() if line.startswith("step ")]
    cost = folder.status()["cost"]
    if ratio == 0 and entry.cls.needs_pairs:
        assert "needs pairs" in log and not steps and "fit:" not in log
        assert cost["steps"] == 0 and cost["fit_s"] == 0
        return
    fits = entry.cls.fits or bool(create(name).embeddings() & FEATURES)  # fitted, or reads frozen features
    assert ("fit:" in log) == fits and (cost["fit_s"] > 0) == fits, log
    if entry.cls.closed_form:
        assert not steps and cost["steps"] == 0 and cost["n_trainable"] == 0, log
        assert not folder.file("checkpoint.pt").exists()
        return
    assert steps, log
    logged = dict(item.split("=") for item in steps[-1].split()[3:])
    assert math.isfinite(float(logged.pop("lr")))  # the step's learning rate, then the terms
    assert logged, f"{name} logged no term at r = {ratio}"
    for term, value in logged.items():
        assert weights.get(term), f"{name} logged {term}, whose weight is 0 or unknown"
        assert math.isfinite(float(value)), (term, value)


def test_at_most_one_method_is_the_baseline_of_the_tables():
    declared = [n for n in NAMES if registry.methods().get(n).describe()["baseline"]]
    assert len(declared) <= 1, declared


@pytest.mark.parametrize("name", NAMES)
def test_a_method_reads_only_the_embeddings_it_declares(name):
    """`embeddings()` is what the engine embeds up front: every key `terms` reads is in it, with its
    defaults and with each settable weight at 0 (fewer keys), on every batch shape."""
    settings = [{}] + [{param: 0} for param in weight_params(name).values()]
    for raw in settings:
        method = create(name, **raw)
        declared = method.embeddings()
        assert declared <= EMBEDDINGS
        for shape in SHAPES:
            batch, rec = make_batch(*shape, keywords=True)
            method.terms(batch)
            assert set(rec.asked) <= declared, (raw, shape, set(rec.asked) - declared)


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_the_default_task(results, name):
    """Every method on the default task's offline smoke data (r = 0.1), or, for a method that does not apply
    to it (refused there), on the first task that gives what it requires (r = 0.5): done, finite metrics,
    every term of nonzero weight logged by the end (a method in stages reaches its last)."""
    task = DEFAULT_TASK
    if refused_where_it_does_not_apply(name, DEFAULT_TASK):
        task = applicable_task(name)
    entry = registry.tasks().get(task)
    hp = entry.resolve({k: str(v) for k, v in entry.cls.smoke_params.items()})
    ratio = 0.1 if task == DEFAULT_TASK else 0.5
    s = RunSpec(name, task, ratio, 0, 0, registry.methods().get(name).resolve({}), hp)
    store = Store(results)
    assert run(store, [s]) == {s.run_id(): "done"}
    metrics = store.folder(s.run_id()).metrics()
    assert math.isfinite(metrics[entry.cls.primary_metric])
    if task != DEFAULT_TASK:
        log = store.folder(s.run_id()).file("log.txt").read_text()
        last = [line for line in log.splitlines() if line.startswith("step ")][-1]
        logged = {item.split("=")[0] for item in last.split()[3:]} - {"lr"}
        assert logged == {k for k, w in create(name).weights().items() if w}, last
