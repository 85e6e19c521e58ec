"""SOTAlign as its authors draw it (ExplainableML/SOTAlign, assets/methodology.svg): SigLIP's sigmoid loss
with a learnable scale and bias on the pairs, against a transcription of open_clip's `SigLipLoss` (float64,
value and gradient), and the teacher's kernel the plain cosine of its CCA projections; the InfoNCE and
correlation-weighted forms stay options."""

import math

import torch
import torch.nn.functional as F
from method_batches import create, make_batch

from bench.engine.model import TwoTower
from bench.registry import methods
from methods.base import FitData
from methods.losses import sigmoid_loss
from methods.sotalign import SIGLIP_BIAS, SIGLIP_TEMPERATURE

from helpers import run, spec


def open_clip_siglip(image_features, text_features, logit_scale, logit_bias):
    """A transcription of open_clip's `SigLipLoss._loss` on one device (open_clip_torch 3.3.0,
    src/open_clip/loss.py, class SigLipLoss: `get_ground_truth` lines 358-362, `get_logits` 364-368,
    `_loss` 370-379): labels 2·I − 1, logits s·x·yᵀ + b, loss −Σ logsigmoid(labels · logits) / n."""
    n = image_features.shape[0]
    labels = -torch.ones((n, n), dtype=image_features.dtype)
    labels = 2 * torch.eye(n, dtype=image_features.dtype) + labels
    logits = logit_scale * image_features @ text_features.T
    logits += logit_bias
    return -F.logsigmoid(labels * logits).sum() / image_features.shape[0]


def plain_sigmoid(za, zb, s, b, positives):
    """−(1/n) Σ_ij log σ(y_ij (s·za_i·zb_j + b)) by a double loop over the pairs (i, j)."""
    n, total = len(za), 0.0
    for i in range(n):
        for j in range(n):
            y = 1.0 if (i == j or positives[i, j]) else -1.0
            z = y * (s * float(za[i] @ zb[j]) + b)
            total += -math.log(1 / (1 + math.exp(-z)))
    return total / n


def unit(n, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, 6, generator=g, dtype=torch.float64), dim=1)


def test_sigmoid_loss_is_open_clips_siglip_loss_value_and_gradient():
    za, zb = unit(7, 0).requires_grad_(), unit(7, 1).requires_grad_()
    for s, b in ((10.0, -10.0), (3.7, 0.4)):
        scale, bias = torch.tensor(s, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        ours = sigmoid_loss(za, zb, scale, bias)
        theirs = open_clip_siglip(za, zb, scale, b)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        g_ours = torch.autograd.grad(ours, (za, zb))
        g_theirs = torch.autograd.grad(theirs, (za, zb))
        for x, y in zip(g_ours, g_theirs, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)


def test_sigmoid_loss_matches_the_installed_open_clip_and_a_plain_loop_with_positives():
    from open_clip.loss import SigLipLoss

    za, zb = unit(5, 2), unit(5, 3)
    s, b = torch.tensor(10.0, dtype=torch.float64), torch.tensor(-10.0, dtype=torch.float64)
    torch.testing.assert_close(sigmoid_loss(za, zb, s, b), SigLipLoss()(za, zb, s, b), rtol=1e-12, atol=1e-12)
    same = torch.zeros(5, 5, dtype=torch.bool)
    same[0, 3] = same[3, 0] = True  # two rows with the same B content: positives of each other
    value = sigmoid_loss(za, zb, s, b, positives=same)
    assert math.isclose(float(value), plain_sigmoid(za, zb, 10.0, -10.0, same), rel_tol=1e-12)
    assert not math.isclose(float(value), float(sigmoid_loss(za, zb, s, b)), rel_tol=1e-6)


def test_defaults_are_the_sigmoid_loss_from_siglips_init_and_the_teachers_plain_cosine():
    values = methods().get("sotalign").resolve({})
    assert values["supervised"] == "sigmoid" and values["teacher_weighting"] == "equal"
    assert values["features"] == "frozen"
    assert math.isclose(math.log(1 / values["temperature"]), math.log(10))  # SigLIP's t' = log 10
    assert values["bias"] == SIGLIP_BIAS == -10.0 and SIGLIP_TEMPERATURE == 0.1
    method = create("sotalign")
    assert method.logit_bias() == -10.0 and set(method.weights()) == {"sigmoid", "klot"}
    assert create("sotalign", supervised="infonce").logit_bias() is None


def test_the_model_carries_a_learnable_bias_only_for_the_sigmoid_loss():
    class Tower(torch.nn.Linear):
        out_dim = 3

    method = create("sotalign")
    model = TwoTower(Tower(3, 3), Tower(3, 3), 4, 0.0, method.p["temperature"], True, method.logit_bias())
    assert model.logit_bias.requires_grad and float(model.logit_bias.detach()) == -10.0
    assert math.isclose(float(model.logit_scale()), 10.0, rel_tol=1e-6)
    assert "logit_bias" in dict(model.named_parameters())
    plain = TwoTower(Tower(3, 3), Tower(3, 3), 4, 0.0, 0.07, True)
    assert plain.logit_bias is None and "logit_bias" not in plain.state_dict()


def test_the_supervised_term_follows_the_option():
    batch, _ = make_batch(4, 6)
    sigmoid = create("sotalign").terms(batch)
    expected = sigmoid_loss(batch.a_p, batch.b_p, batch.logit_scale, batch.logit_bias)
    torch.testing.assert_close(sigmoid["sigmoid"], expected)
    assert "clip" in create("sotalign", supervised="infonce").terms(make_batch(4, 6)[0])


def test_the_teacher_kernel_is_the_plain_cosine_of_its_projections_by_default():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(40, 6, generator=g, dtype=torch.float64)
    b = a[:, :5] + 0.3 * torch.randn(40, 5, generator=g, dtype=torch.float64)
    data = FitData.from_tensors(a_p=a, b_p=b)
    plain, weighted = create("sotalign"), create("sotalign", teacher_weighting="correlation")
    plain.fit(data)
    weighted.fit(data)
    t = plain.teacher
    za = F.normalize((a - t.mean_a) @ t.w_a[:, : t.dim], dim=1)
    zb = F.normalize((b - t.mean_b) @ t.w_b[:, : t.dim], dim=1)
    torch.testing.assert_close(t.embed_a(a) @ t.embed_b(b).T, (za @ zb.T).float())
    kernel = weighted.teacher.embed_a(a) @ weighted.teacher.embed_b(b).T
    assert not torch.allclose(kernel, t.embed_a(a) @ t.embed_b(b).T)


def test_a_default_run_trains_the_bias_and_logs_the_sigmoid_term(results):
    from bench.cell.store import Store

    store = Store(results)
    s = spec("sotalign", 0.1, steps="20", checkpoint_every="0")
    assert run(store, [s]) == {s.run_id(): "done"}
    folder = store.folder(s.run_id())
    log = folder.file("log.txt").read_text()
    assert "sigmoid=" in log and "klot=" in log, log
    assert folder.status()["fit_features"] == {"a": "raw a", "b": "raw b"}
