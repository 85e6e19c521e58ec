"""Methods fitted in closed form and the fit stage of the engine: ASIF on a hand-computed example, CCA
recovering a planted linear correspondence, zero-shot prompt pooling, the frozen features a fit gets, and
a closed-form run (no step, no checkpoint, its fit as its cost; run again, it gives the same numbers)."""

import math
from dataclasses import replace

import pytest
import torch

from bench import registry
from bench.cell.store import Store
from bench.engine.fit import fit_data, frozen_features
from bench.engine.split import Split
from methods.asif import Asif, relative_representation
from methods.base import FitData
from methods.cca import Cca, fit_cca
from tasks.metrics import class_scores

from helpers import run, spec

E = torch.eye(3, dtype=torch.float64)


def test_asif_on_a_hand_computed_four_pair_example():
    """A anchors e1, e2, −e1, (e1+e2)/√2 (in 2-D); B anchors f1, f2, f3, (f1+f2+f3)/√3. A query e1 has
    cosines (1, 0, −1, 1/√2): k = 2, p = 2 keep (1, ½) at anchors 0 and 3, so r = (2, 0, 0, 1)/√5. A query
    f1 has cosines (1, 0, 0, 1/√3): r = (1, 0, 0, ⅓)·3/√10 = (3, 0, 0, 1)/√10. Score 7/√50."""
    anchors_a = torch.tensor([[1.0, 0], [0, 1], [-1, 0], [2**-0.5, 2**-0.5]], dtype=torch.float64)
    anchors_b = torch.cat([E, torch.full((1, 3), 3**-0.5, dtype=torch.float64)])
    fit = Asif(k=2, p=2.0, prompt_pooling="mean").fit(FitData.from_tensors(a_p=anchors_a, b_p=anchors_b))
    ra, rb = fit.embed_a(torch.tensor([[3.0, 0]], dtype=torch.float64)), fit.embed_b(E[:1] * 5)
    torch.testing.assert_close(ra, torch.tensor([[2.0, 0, 0, 1]], dtype=torch.float64) / 5**0.5)
    torch.testing.assert_close(rb, torch.tensor([[3.0, 0, 0, 1]], dtype=torch.float64) / 10**0.5)
    torch.testing.assert_close(ra @ rb.T, torch.tensor([[7 / 50**0.5]], dtype=torch.float64))
    # k = 4 also keeps 0 and −1: the negative cosine is set to 0, not raised to (−1)² = 1
    torch.testing.assert_close(relative_representation(anchors_a[:1], anchors_a, 4, 2.0), ra)
    # k above the number of pairs keeps them all
    assert relative_representation(anchors_a[:1], anchors_a, 800, 2.0).shape == (1, 4)


def planted(n, seed):
    """A (5 columns) and B (6 columns) that share a 3-dimensional latent z linearly, each with its own
    independent noise directions and offset, mixed by a fixed random matrix per side."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.Generator().manual_seed(99)
    ra, rb = (
        torch.randn(5, 5, generator=mix, dtype=torch.float64),
        torch.randn(6, 6, generator=mix, dtype=torch.float64),
    )
    m = torch.randn(3, 3, generator=mix, dtype=torch.float64)
    z = torch.randn(n, 3, generator=g, dtype=torch.float64)
    xa = torch.cat([z, torch.randn(n, 2, generator=g, dtype=torch.float64)], 1) @ ra + 2.0
    xb = torch.cat([z @ m, torch.randn(n, 3, generator=g, dtype=torch.float64)], 1) @ rb - 1.0
    return xa, xb


def test_cca_recovers_a_planted_linear_correspondence_exactly():
    xa, xb = planted(400, 0)
    fit = fit_cca(xa, xb, dim=3, ridge=0.0, weighting="equal")
    torch.testing.assert_close(fit.rho[:3], torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-10)
    assert fit.rho[3] < 0.5  # the independent noise directions correlate only by chance
    project = lambda x, mean, w: (x - mean) @ w[:, :3]  # noqa: E731
    torch.testing.assert_close(project(xa, fit.mean_a, fit.w_a), project(xb, fit.mean_b, fit.w_b))
    new_a, new_b = planted(50, 1)  # the correspondence itself, not the fitted items: new items match too
    torch.testing.assert_close(fit.embed_a(new_a), fit.embed_b(new_b), rtol=1e-5, atol=1e-6)
    weighted = fit_cca(xa, xb, dim=3, ridge=0.0, weighting="correlation")  # √ρ = 1 on these directions
    torch.testing.assert_close(weighted.embed_a(new_a), fit.embed_a(new_a))


def test_cca_keeps_at_most_the_directions_there_are_and_its_ridge_keeps_a_few_pairs_finite():
    xa, xb = planted(4, 0)  # 4 pairs, 5 and 6 columns: the covariances are singular
    fit = Cca(dim=256, ridge=1e-3, weighting="correlation").fit(FitData.from_tensors(a_p=xa, b_p=xb))
    assert fit.dim == 4
    za, zb = fit.embed_a(xa), fit.embed_b(xb)
    assert za.shape == (4, 4) and torch.isfinite(za).all() and torch.isfinite(zb).all()
    assert bool((fit.rho >= 0).all() and (fit.rho <= 1 / (1 - 1e-3) + 1e-9).all())  # the ridge's bound


def test_prompt_pooling_mean_and_max():
    za = torch.tensor([[1.0, 0.0]])
    # 2 templates × 2 classes, template-major: class 0's prompts (1, 0) and (0, 1); class 1's both (.8, .6)
    zp = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.8, 0.6]])
    mean = class_scores(za, zp, 2, "mean")
    torch.testing.assert_close(mean, torch.tensor([[2**-0.5, 0.8]]))  # class 1 wins on the mean
    torch.testing.assert_close(class_scores(za, zp, 2, "max"), torch.tensor([[1.0, 0.8]]))  # class 0 on max
    with pytest.raises(ValueError, match="prompt pooling"):
        class_scores(za, zp, 2, "median")


def test_frozen_features_are_the_towers_in_eval_mode_and_the_pools_are_looked_up_by_item():
    tower = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5))
    tower.out_dim = 4
    pool = torch.randn(10, 3)
    tower.train()
    feats = frozen_features(tower, pool, torch.tensor([7, 2, 5]), torch.device("cpu"))
    assert tower.training  # its mode is restored
    tower.eval()
    torch.testing.assert_close(feats, tower(pool[[7, 2, 5]]).detach())

    class Data:
        train_a = train_b = pool

        def __len__(self):
            return 10

    split = Split(torch.tensor([0, 1]), torch.tensor([2, 4, 6]), torch.tensor([3, 5]))
    data = fit_data((tower, tower), Data(), split, torch.device("cpu"))
    torch.testing.assert_close(data.unpaired_rows("a", torch.tensor([6, 2])), tower(pool[[6, 2]]).detach())
    torch.testing.assert_close(data.unpaired_rows("b", torch.tensor([5])), tower(pool[[5]]).detach())
    torch.testing.assert_close(data.paired_rows("b", torch.tensor([1, 0])), tower(pool[[1, 0]]).detach())


CLOSED_FORM = [n for n in registry.methods().names() if registry.methods().get(n).cls.closed_form]


def test_the_closed_form_methods_are_found():
    assert CLOSED_FORM  # the test below runs on each of them


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_a_closed_form_run_fits_once_writes_no_checkpoint_and_reruns_to_the_same_numbers(results, name):
    store = Store(results)
    s = spec(name, 0.1)
    assert run(store, [s]) == {s.run_id(): "done"}
    folder = store.folder(s.run_id())
    first = folder.metrics()
    status = folder.status()
    cost = status["cost"]
    assert cost["steps"] == 0 and cost["fit_s"] > 0 and cost["peak_mem_mb"] > 0 and cost["n_trainable"] == 0
    assert not folder.file("checkpoint.pt").exists()
    assert all(math.isfinite(v) for v in first.values())
    assert run(store, [s], force=True) == {s.run_id(): "done"}
    assert store.folder(s.run_id()).metrics() == first


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_a_closed_form_method_has_no_train_seed(results, name):
    """With the split seed fixed, its metrics do not change with the train seed: it fits on the task's
    frozen features. On the towers' outputs (features=towers, seeded random towers on synthetic) they do,
    so the check is not vacuous."""
    store = Store(results)
    frozen = [spec(name, 0.1, seed=seed) for seed in (0, 1)]
    towers = [replace(s, method_params={**s.method_params, "features": "towers"}) for s in frozen]
    assert set(run(store, frozen + towers).values()) == {"done"}
    metrics = [store.folder(s.run_id()).metrics() for s in frozen + towers]
    assert metrics[0] == metrics[1]
    assert metrics[2] != metrics[3]
    for s in frozen:
        assert store.folder(s.run_id()).status()["fit_features"] == {"a": "raw a", "b": "raw b"}
    assert store.folder(towers[0].run_id()).status()["fit_features"] == {"a": "towers", "b": "towers"}


def test_asif_keeps_a_share_of_the_pairs_and_pools_prompts_by_the_best_one():
    values = registry.methods().get("asif").resolve({})
    assert values["prompt_pooling"] == "max" and values["k"] == 0
    method = Asif(**values)
    assert [method.kept(n) for n in (1, 5, 20, 200, 2000)] == [1, 1, 2, 20, 200]  # ⌈0.1 N⌉, at least 1
    assert Asif(**{**values, "k": 800}).kept(200) == 200  # a fixed k, at most N
    xa, xb = planted(50, 0)
    fit = method.fit(FitData.from_tensors(a_p=xa, b_p=xb))
    assert fit.k == 5 and fit.prompt_pooling == "max"
    assert int((fit.embed_a(xa[:3]) > 0).sum(1).max()) <= 5  # sparse: at most k of the 50 anchors
