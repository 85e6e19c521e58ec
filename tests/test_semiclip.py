"""SemiCLIP against a transcription of its authors' loss: Gank0078/SemiCLIP at 0e550063, custom/loss.py
`SemiSupervisedClipLoss.forward` (method "semiclip", stage 1 l. 202-213 and stage 2 l. 215-251) and
`soft_cross_entropy`, fed what custom/model.py `peftCLIP.forward` (l. 270-290) computes, in float64. The
released concept embeddings `nouns_emb` are here the keyword embeddings, the concept scale
`nouns_logit_scale` the CLIP scale, the cached stage-1 logits `logits_w` the current (detached) logits of
the unpaired rows, their strong view `query1` the rows themselves, and the pseudo-caption (the text tower
on a learned prompt with the top 4 concepts) the normalised sum of those concepts' embeddings: the
deviations docs/methods.md ("SemiCLIP") lists."""

import pytest
import torch
import torch.nn.functional as F
from method_batches import create

from bench import registry
from bench.cell.grid import inapplicable
from methods.base import BatchEmbeddings
from methods.losses import trapezoid_consistency


def soft_cross_entropy(outputs, targets, weight=1.0):
    loss = -targets * F.log_softmax(outputs, dim=1)
    return (loss * weight).sum(dim=1).mean()


def released_stage1(image_features, text_features, logit_scale, logits_l, nlabels, tr=1.0, cylam1=1.0):
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logits_per_image.T
    labels = torch.arange(image_features.shape[0])
    losses = {
        "contrastive_loss": (
            F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
        )
        / 2
    }
    nlabels = (nlabels) / (nlabels + 1e-8).sum(dim=1).unsqueeze(1)
    losses["soft_loss"] = soft_cross_entropy(logits_l / tr, nlabels) * cylam1
    return losses


def released_stage2(
    image_features, text_features, logit_scale, query_features, logits_w, logits_s, qtext_pseu_features, k
):
    bs, ubs = image_features.shape[0], query_features.shape[0]
    topk, pratio, tr, cylam1, cylam2, cylam3 = 3, 0.3, 1.0, 1.0, 1.0, 1.0
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logits_per_image.T
    labels = torch.arange(bs)
    losses = {
        "contrastive_loss": (
            F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
        )
        / 2
    }
    probs_w = F.softmax(logits_w, dim=1)
    pseu_probs, pseu_idxs = torch.topk(probs_w.detach(), topk, dim=1)
    pseu_ot = F.one_hot(pseu_idxs, num_classes=logits_s.shape[1])
    pseu_ot = pseu_ot.sum(dim=1)
    pseu_ot = pseu_ot / (pseu_ot + 1e-8).sum(dim=1).unsqueeze(1)
    losses["softu_loss"] = soft_cross_entropy(logits_s / tr, pseu_ot) * cylam1
    sim = (qtext_pseu_features * query_features).sum(dim=1)
    selk = int(ubs * pratio)
    _, topkpos = torch.topk(sim, k=selk)
    mask = torch.zeros_like(sim, dtype=torch.bool)
    mask[topkpos] = True
    image_mix = torch.cat((image_features, query_features[mask]))
    text_mix = torch.cat((text_features, qtext_pseu_features[mask]))
    logits_image_per_image = logit_scale * image_mix @ image_mix.t()
    logits_text_per_text = logit_scale * text_mix @ text_mix.t()
    losses["inmodal_cyclic_loss"] = (
        (logits_image_per_image - logits_text_per_text).square().mean()
        / (logit_scale * logit_scale)
        * bs
        * cylam2
    )
    logits_per_image1 = logit_scale * image_mix @ text_mix.T
    logits_per_text1 = logits_per_image1.T
    losses["crossmodal_cyclic_loss"] = (
        (logits_per_image1 - logits_per_text1).square().mean() / (logit_scale * logit_scale) * bs * cylam3
    )
    return losses


def unit(n, d, g):
    return F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


def tensors(b_p=5, b_u=10, k=7, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = {"a_p": unit(b_p, d, g), "b_p": unit(b_p, d, g), "a_u": unit(b_u, d, g), "keywords": unit(k, d, g)}
    mask = torch.rand(b_p, k, generator=g) < 0.4
    mask[0] = False  # a pair whose text names no concept: zero target, as released
    return t, mask


@pytest.mark.parametrize("seed", [0, 1])
def test_stage_1_is_the_released_stage_1(seed):
    t, mask = tensors(seed=seed)
    s = torch.tensor(14.0, dtype=torch.float64)
    batch = BatchEmbeddings.from_tensors(logit_scale=s, keyword_mask_p=mask, step=10, steps=100, **t)
    method = create("semiclip")
    assert method.stage(batch) == 1
    total, logged = method.loss(batch)
    ref = released_stage1(t["a_p"], t["b_p"], s, s * t["a_p"] @ t["keywords"].T, mask.double())
    assert logged == pytest.approx(
        {"clip": float(ref["contrastive_loss"]), "concept": float(ref["soft_loss"])}
    )
    torch.testing.assert_close(total, sum(ref.values()), rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_stage_2_is_the_released_stage_2(seed):
    t, mask = tensors(seed=seed)
    s = torch.tensor(14.0, dtype=torch.float64)
    batch = BatchEmbeddings.from_tensors(logit_scale=s, keyword_mask_p=mask, step=70, steps=100, **t)
    method = create("semiclip")
    assert method.stage(batch) == 2
    total, logged = method.loss(batch)
    kw = t["keywords"]
    logits_w = s * t["a_u"] @ kw.T
    top4 = logits_w.topk(4, dim=1).indices
    pseudo = F.normalize(kw[top4].sum(1), dim=1)
    ref = released_stage2(t["a_p"], t["b_p"], s, t["a_u"], logits_w.detach(), logits_w, pseudo, len(kw))
    names = {"clip": "contrastive_loss", "concept": "softu_loss"}
    names |= {"inmodal": "inmodal_cyclic_loss", "crossmodal": "crossmodal_cyclic_loss"}
    # the released pseudo-label divides an integer multi-hot by (it + 1e-8).sum: float32 targets (torch's
    # default dtype), hence 1e-7 rather than float64's agreement on that term
    assert logged == pytest.approx({ours: float(ref[theirs]) for ours, theirs in names.items()}, rel=1e-7)
    torch.testing.assert_close(total, sum(ref.values()), rtol=1e-7, atol=0)


def test_trapezoid_terms_vanish_for_identical_modalities_and_are_positive_otherwise():
    g = torch.Generator().manual_seed(3)
    za, zb = unit(6, 4, g), unit(6, 4, g)
    inmodal, crossmodal = trapezoid_consistency(za, za, 20.0, 6)
    assert float(inmodal) == 0.0 and float(crossmodal) < 1e-24
    inmodal, crossmodal = trapezoid_consistency(za, zb, 20.0, 6)
    assert float(inmodal) > 0 and float(crossmodal) > 0


def test_the_stages_split_the_run_as_the_released_scripts_25_and_15_epochs():
    method = create("semiclip")
    t, mask = tensors()
    stage = [
        method.stage(BatchEmbeddings.from_tensors(keyword_mask_p=mask, step=k, steps=40, **t))
        for k in range(40)
    ]
    assert stage == [1] * 25 + [2] * 15
    assert method.stage(BatchEmbeddings.from_tensors(keyword_mask_p=mask, step=1000, steps=0, **t)) == 1


def test_semiclip_applies_only_to_tasks_that_give_keywords():
    entry = registry.methods().get("semiclip")
    tasks = registry.tasks()

    def made(name, **raw):
        return tasks.get(name).create(tasks.get(name).resolve(raw))

    assert "task synthetic has none" in inapplicable(entry, made("synthetic"))
    assert "task protein has none" in inapplicable(entry, made("protein"))
    assert inapplicable(entry, made("rs")) is None  # rs: keywords=classes by default
    assert "keywords=classes" in inapplicable(entry, made("rs", keywords="none"))
    assert "keywords=classes" in inapplicable(entry, made("vl"))
    assert inapplicable(entry, made("vl", keywords="classes")) is None
