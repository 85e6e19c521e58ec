"""embed_step: one forward pass per modality gives the loss and the gradients of separate passes, for every
registered method that trains (a method that fits gets the step's frozen features from its FitData); the
original SSL layout's view 1 is the rows' own embedding; undeclared keys fail."""

import pytest
import torch

from bench import registry
from bench.engine.embed import embed_step, pass_groups
from bench.engine.fit import fit_data
from bench.engine.loader import make_inputs, needed
from bench.engine.precision import Precision
from bench.engine.split import Split
from bench.engine.train import build_model
from methods.base import EMBEDDINGS, FEATURES

CPU = torch.device("cpu")
TASK = {"n_train": "200", "n_test": "20", "width": "32", "embed_dim": "16", "head_dropout": "0"}


@pytest.fixture(scope="module")
def setup():
    entry = registry.tasks().get("synthetic")
    hp = entry.resolve(TASK)
    task = entry.create(hp)
    return task, task.load(), hp


def step_inputs(task, data, original=False, seed=0):
    """A step of 8 paired and 12 unpaired rows of each modality, with both views of each modality (the
    loader's own `make_inputs`; in the original layout without v1)."""
    idx = (torch.arange(8), torch.arange(100, 112), torch.arange(150, 162))
    return make_inputs(task, data, idx, 0, seed, needed(EMBEDDINGS, "original" if original else "two"))


def loss_and_grads(model, method, data, inputs, single_pass, features=None):
    model.zero_grad(set_to_none=True)
    wanted = method.embeddings()
    precision = Precision("none", CPU)
    batch = embed_step(
        model, data, inputs, wanted, CPU, precision, dist=None, single_pass=single_pass, features=features
    )
    loss, _ = method.loss(batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


TRAINED = [n for n in registry.methods().names() if not registry.methods().get(n).cls.closed_form]
SPLIT = Split(torch.arange(0, 100), torch.arange(100, 200), torch.arange(100, 200))  # holds the step's rows


@pytest.mark.parametrize("name", TRAINED)
def test_single_pass_matches_separate_passes(setup, name):
    task, data, hp = setup
    entry = registry.methods().get(name)
    method = entry.create(entry.resolve({}))
    torch.manual_seed(0)
    model = build_model(task, method, data, hp)
    features = None
    if method.fits or method.embeddings() & FEATURES:  # its fit stage on the frozen features, as the engine's
        features = fit_data((model.encoder_a, model.encoder_b), data, SPLIT, CPU)
    if method.fits:
        method.fit(features)
    inputs = step_inputs(task, data)
    one, grads_one = loss_and_grads(model, method, data, inputs, True, features)
    apart, grads_apart = loss_and_grads(model, method, data, inputs, False, features)
    torch.testing.assert_close(one, apart, rtol=1e-5, atol=1e-6)
    assert grads_one.keys() == grads_apart.keys() and grads_one
    for key, grad in grads_one.items():  # float32 rounding is relative to the gradient's scale (~1e3 for
        # the released objective), so an element near zero is compared at that scale, not at its own
        atol = 1e-6 * max(1.0, float(grads_apart[key].abs().max()))
        torch.testing.assert_close(grad, grads_apart[key], rtol=1e-4, atol=atol, msg=key)


def test_original_layout_view_one_is_the_rows(setup):
    task, data, hp = setup
    method = registry.methods().get("gentle_clip").create(registry.methods().get("gentle_clip").resolve({}))
    torch.manual_seed(0)
    model = build_model(task, method, data, hp)
    inputs = step_inputs(task, data, original=True)
    wanted = frozenset({"a_p", "a_u", "views_a", "views_b"})
    batch = embed_step(model, data, inputs, wanted, CPU, Precision("none", CPU))
    v1, v2 = batch.views_a
    torch.testing.assert_close(v1, torch.cat([batch.a_p, batch.a_u]))
    torch.testing.assert_close(v1, model.embed_a(torch.cat([inputs.a_p, inputs.a_u])), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(v2, model.embed_a(inputs.views_a[1]), rtol=1e-5, atol=1e-6)
    b1, _ = batch.views_b
    torch.testing.assert_close(b1, model.embed_b(torch.cat([inputs.b_p, inputs.b_u])), rtol=1e-5, atol=1e-6)
    with pytest.raises(KeyError, match="'b_p'"):
        _ = batch.b_p  # not in `wanted`, though the original layout embedded the b_p rows


def test_undeclared_key_is_a_key_error(setup):
    task, data, hp = setup
    method = registry.methods().get("clip").create(registry.methods().get("clip").resolve({}))
    model = build_model(task, method, data, hp)
    batch = embed_step(model, data, step_inputs(task, data), method.embeddings(), CPU, Precision("none", CPU))
    assert batch.a_p.shape == (8, 16) and batch.a_p.dtype == torch.float32
    with pytest.raises(KeyError, match="declared only"):
        _ = batch.views_a


def test_parts_of_other_shapes_get_passes_of_their_own():
    parts = {
        "b_p": torch.zeros(4, 3, 7, dtype=torch.long),  # rs captions (n, m, L)
        "b_u": torch.zeros(5, 3, 7, dtype=torch.long),
        "b_v1": torch.zeros(9, 7, dtype=torch.long),  # caption views (n, L)
        "b_v2": torch.zeros(9, 7, dtype=torch.long),
        "other": ["not", "a", "tensor"],
    }
    assert pass_groups(parts, single_pass=True) == [["b_p", "b_u"], ["b_v1", "b_v2"], ["other"]]
    assert pass_groups(parts, single_pass=False) == [[k] for k in parts]
