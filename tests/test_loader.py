"""The input pipeline (bench/engine/loader.py) on real pools, the synthetic task's Tensors and the rs task's
encoded images: worker processes make the same StepInputs as the main process, a loader resumed from
`state_at(s)` continues exactly, each method gets the rows and views it reads, and closing ends the workers.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import pytest
import torch

from bench import registry
from bench.engine.batches import BatchSampler, batch_shape
from bench.engine.inputs import StepInputs
from bench.engine.loader import StepLoader, default_workers, make_inputs, needed
from bench.engine.split import make_split
from bench.seeds import view_generator
from tasks.protein.towers import ProteinPool
from tasks.rs.images import ImagePool

STEPS = 12
SEED = 3
ALL = needed(frozenset({"a_p", "b_p", "a_u", "b_u", "views_a", "views_b"}), "two")


def _task(name: str, **extra):
    entry = registry.tasks().get(name)
    raw = {**entry.cls.smoke_params, **extra}
    return entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    """{name: (task, data)}: synthetic (Tensor pools) and rs fine-tuning (an ImagePool of encoded images)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        synthetic = _task("synthetic", n_train=40)
        rs = _task("rs", mode="finetune")
        return {"synthetic": (synthetic, synthetic.load()), "rs": (rs, rs.load())}


def _sampler(data, batch_size: int = 8) -> BatchSampler:
    split = make_split(len(data), 0.5, 0)
    return BatchSampler(split, batch_shape(split, batch_size, 1 / 3), SEED)


def _collect(task, data, sampler, start: int, steps: int, workers: int, need=ALL, stop: int | None = None):
    """The StepInputs of steps start + 1 … stop (default: steps) and the loader."""
    loader = StepLoader(task, data, sampler, SEED, need, start, steps, workers, pin_memory=False)
    out = []
    with loader:
        for inputs in loader:
            out.append(inputs)
            if inputs.step == stop:
                break
    return out, loader


def _same(x, y) -> bool:
    """Equal values: tensors by torch.equal, tuples elementwise, anything else by ==."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and torch.equal(x, y)
    if isinstance(x, tuple):
        return isinstance(y, tuple) and len(x) == len(y) and all(map(_same, x, y))
    return x == y


def _assert_same(xs: list[StepInputs], ys: list[StepInputs]) -> None:
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys, strict=True):
        for field in ("step", "idx", "a_p", "b_p", "a_u", "b_u", "views_a", "views_b"):
            assert _same(getattr(x, field), getattr(y, field)), (x.step, field)


def test_the_views_generator_depends_only_on_seed_and_step():
    draw = [torch.rand(4, generator=view_generator(s, t)) for s, t in ((0, 1), (0, 1), (0, 2), (1, 1))]
    assert torch.equal(draw[0], draw[1])
    assert not torch.equal(draw[0], draw[2]) and not torch.equal(draw[0], draw[3])


@pytest.mark.parametrize("name", ["synthetic", "rs"])
def test_workers_make_the_same_inputs_as_the_main_process(pools, name):
    task, data = pools[name]
    serial, _ = _collect(task, data, _sampler(data), 0, STEPS, workers=0)
    parallel, _ = _collect(task, data, _sampler(data), 0, STEPS, workers=2)
    assert [x.step for x in serial] == list(range(1, STEPS + 1))
    _assert_same(serial, parallel)
    first = serial[0]
    assert first.views_a[0].shape[0] == first.n_paired + len(first.idx[1])
    assert not torch.equal(first.views_a[0], first.views_a[1])


@pytest.mark.parametrize("name", ["synthetic", "rs"])
def test_a_loader_resumed_from_state_at_continues_exactly(pools, name):
    task, data = pools[name]
    whole, _ = _collect(task, data, _sampler(data), 0, STEPS, workers=0)
    head, loader = _collect(task, data, _sampler(data), 0, STEPS, workers=2, stop=5)
    assert [x.step for x in head] == [1, 2, 3, 4, 5]
    sampler = _sampler(data)
    sampler.load_state_dict(loader.state_at(5))
    tail, _ = _collect(task, data, sampler, 5, STEPS, workers=2)
    _assert_same(whole[5:], tail)


def test_state_at_is_the_sampler_right_after_a_step_while_the_loader_draws_ahead(pools):
    task, data = pools["synthetic"]
    reference = _sampler(data)
    draws = [reference.next() for _ in range(4)]
    loader = StepLoader(task, data, _sampler(data), SEED, ALL, 0, STEPS, 1, pin_memory=False, prefetch=2)
    states = {0: loader.state_at(0)}
    with loader:
        for inputs in loader:
            if inputs.step == 3:
                break
    states[3] = loader.state_at(3)
    for step, state in states.items():
        sampler = _sampler(data)
        sampler.load_state_dict(state)
        assert _same(sampler.next(), draws[step])
    assert not _same(loader.sampler.next(), draws[3])  # the live sampler ran ahead of step 3
    with pytest.raises(KeyError, match="step 2"):
        loader.state_at(2)


@pytest.mark.parametrize("ssl_views", ["two", "original"])
def test_every_method_gets_the_rows_and_views_it_reads(ssl_views):
    methods = registry.methods()
    for name in methods.names():
        entry = methods.get(name)
        wanted = entry.create(entry.resolve({})).embeddings()
        need = needed(wanted, ssl_views)
        assert need["v1"] == (ssl_views == "two")
        for side in "ab":
            views = f"views_{side}" in wanted
            assert need[f"views_{side}"] == views, name
            for part in (f"{side}_p", f"{side}_u"):
                assert need[part] == (part in wanted or (views and ssl_views == "original")), (name, part)
    clip = needed(frozenset({"a_p", "b_p"}), ssl_views)
    assert not clip["views_a"] and not clip["a_u"]
    gentle = methods.get("gentle_clip")
    clip_ssl = methods.get("clip_ssl")
    assert needed(gentle.create(gentle.resolve({})).embeddings(), ssl_views)["a_u"]
    assert needed(clip_ssl.create(clip_ssl.resolve({})).embeddings(), ssl_views)["b_u"] == (
        ssl_views == "original"
    )


def test_needed_refuses_an_unknown_layout():
    with pytest.raises(ValueError, match="ssl_views"):
        needed(frozenset(), "three")


def test_the_original_layout_keeps_only_the_second_view(pools):
    task, data = pools["rs"]
    idx = _sampler(data).next()
    two = make_inputs(task, data, idx, 7, SEED, ALL)
    need = needed(frozenset({"a_p", "b_p", "views_a", "views_b"}), "original")
    original = make_inputs(task, data, idx, 7, SEED, need)
    assert original.views_a[0] is None and original.views_b[0] is None
    assert torch.equal(original.views_a[1], two.views_a[1]) and torch.equal(
        original.views_b[1], two.views_b[1]
    )
    assert torch.equal(original.a_u, two.a_u) and torch.equal(original.b_u, two.b_u)


def test_parts_not_needed_are_none(pools):
    task, data = pools["synthetic"]
    idx = _sampler(data).next()
    inputs = make_inputs(task, data, idx, 1, SEED, needed(frozenset({"a_p", "b_p"}), "two"))
    assert torch.equal(inputs.a_p, data.train_a[idx[0]]) and torch.equal(inputs.b_p, data.train_b[idx[0]])
    assert (inputs.a_u, inputs.b_u, inputs.views_a, inputs.views_b) == (None, None, None, None)


def _workers_after(task, data, how) -> tuple[list, list]:
    """The loader's worker processes while it runs, and those of them alive after `how` stopped it."""
    loader = StepLoader(task, data, _sampler(data), SEED, ALL, 0, STEPS, 2, pin_memory=False)
    before = set(multiprocessing.active_children())
    running = how(loader)
    workers = [p for p in running if p not in before]
    return workers, [p for p in workers if p.is_alive()]


def _close_mid_iteration(loader):
    steps = iter(loader)
    next(steps)
    running = multiprocessing.active_children()
    loader.close()
    assert next(steps, None) is None  # a closed loader yields nothing more
    return running


def _raise_mid_iteration(loader):
    running = []
    with pytest.raises(RuntimeError), loader:
        for _ in loader:
            running = multiprocessing.active_children()
            raise RuntimeError("the step failed")
    return running


@pytest.mark.parametrize("how", [_close_mid_iteration, _raise_mid_iteration])
def test_stopping_mid_iteration_ends_the_workers(pools, how):
    task, data = pools["rs"]
    workers, alive = _workers_after(task, data, how)
    assert len(workers) == 2 and alive == []


def test_default_workers_decode_only_what_needs_decoding(pools):
    _, synthetic = pools["synthetic"]
    _, rs = pools["rs"]
    assert default_workers(synthetic) == 0
    assert isinstance(rs.train_a, ImagePool) and 1 <= default_workers(rs) <= 4
    proteins = ProteinPool(torch.zeros(4, 3, 5, dtype=torch.float16), torch.zeros(5), torch.ones(5))
    assert default_workers(replace(synthetic, train_a=proteins)) == 0  # it only indexes memory
    assert default_workers(replace(rs, train_b=synthetic.train_b)) >= 1  # one side decodes: workers


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_pinned_inputs_are_the_same_inputs(pools):
    task, data = pools["rs"]
    plain, _ = _collect(task, data, _sampler(data), 0, 3, workers=0)
    loader = StepLoader(task, data, _sampler(data), SEED, ALL, 0, 3, 2, pin_memory=True)
    with loader:
        pinned = list(loader)
    _assert_same(plain, pinned)
    assert pinned[0].a_p.is_pinned() and pinned[0].views_a[1].is_pinned()


def test_alternatives_of_b_items_are_drawn_per_step_with_their_ids(pools):
    """b_ids (N, m): each step embeds one alternative per B row, drawn from the step's generator (the same
    for any method), and b_ids_p are the ids of the drawn alternatives of the paired rows."""
    from dataclasses import replace

    from bench.engine.embed import same_b

    task, data = pools["synthetic"]
    n, m = len(data), 3
    pool_b = torch.stack([data.train_b + j for j in range(m)], dim=1)  # alternative j of item i: row i + j
    ids = torch.arange(n * m).view(n, m) % 5  # few ids: some rows share one
    data = replace(data, train_b=pool_b, b_ids=ids)
    idx = _sampler(data).next()
    inputs = make_inputs(task, data, idx, 4, SEED, ALL)
    assert inputs.b_p.shape == (len(idx[0]), *data.train_b.shape[2:])
    picks = [
        next(j for j in range(m) if torch.equal(inputs.b_p[r], pool_b[i, j])) for r, i in enumerate(idx[0])
    ]
    assert torch.equal(inputs.b_ids_p, ids[idx[0], torch.tensor(picks)])
    assert inputs.b_u.shape == (len(idx[2]), *data.train_b.shape[2:])
    same = same_b(inputs, torch.device("cpu"))
    assert torch.equal(same, inputs.b_ids_p[:, None] == inputs.b_ids_p[None, :])
    only_p = make_inputs(task, data, idx, 4, SEED, needed(frozenset({"a_p", "b_p"}), "two"))
    assert torch.equal(only_p.b_p, inputs.b_p)  # the draws do not depend on what else the method reads
    other_step = [make_inputs(task, data, idx, s, SEED, ALL).b_ids_p for s in range(5, 12)]
    assert any(not torch.equal(x, inputs.b_ids_p) for x in other_step)


def test_one_id_per_item_marks_the_paired_rows_as_they_are(pools):
    from dataclasses import replace

    task, data = pools["synthetic"]
    data = replace(data, b_ids=torch.arange(len(data)) % 4)
    idx = _sampler(data).next()
    inputs = make_inputs(task, data, idx, 1, SEED, ALL)
    assert torch.equal(inputs.b_ids_p, data.b_ids[idx[0]]) and torch.equal(inputs.b_p, data.train_b[idx[0]])
