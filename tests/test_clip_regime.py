"""S-CLIP's regime on the tasks whose towers are an open_clip CLIP (heads=clip, the default of rs and of
vl's open_clip encoders): no fresh head, CLIP's own projections from CLIP's weights, CLIP's learned scale;
and s_clip's keyword targets bounded on every task's default cell."""

from __future__ import annotations

import copy

import open_clip
import pytest
import torch
from torch import nn

import methods._pseudo as pseudo
from bench import registry
from bench.cell.execute import execute
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.engine.model import ProjectionHead
from bench.engine.train import build_model
from tasks import _openclip

TINY = {"encoder": "rs-tiny", "pretrained": "none"}
CELLS = {  # (task, its smoke parameters and these): towers that are an open_clip CLIP
    "rs frozen": ("rs", {"mode": "frozen"}),
    "rs finetune": ("rs", {"mode": "finetune"}),
    "vl frozen": ("vl", {**TINY, "mode": "frozen"}),
    "vl finetune": ("vl", {**TINY, "mode": "finetune"}),
}


def _task(name: str, **extra):
    entry = registry.tasks().get(name)
    raw = {**entry.cls.smoke_params, **extra}
    return entry.create(entry.resolve({k: str(v) for k, v in raw.items()}))


def _method(name: str, **raw: str):
    entry = registry.methods().get(name)
    return entry.create(entry.resolve(raw))


def _resnet_clip() -> nn.Module:
    """A tiny random CLIP whose image tower is a ModifiedResNet (attention-pool projection)."""
    vision = open_clip.model.CLIPVisionCfg(layers=(1, 1, 1, 1), width=8, head_width=8, image_size=64)
    text = open_clip.model.CLIPTextCfg(context_length=32, vocab_size=100, width=16, heads=2, layers=1)
    torch.manual_seed(0)
    return open_clip.CLIP(embed_dim=24, vision_cfg=vision, text_cfg=text).eval()


def _vit_clip() -> nn.Module:
    return _openclip.build("rs-tiny", "none", "test")[0].eval()


@pytest.mark.parametrize("build", [_vit_clip, _resnet_clip], ids=["vit", "resnet"])
def test_own_projections_of_the_feature_inputs_are_clips_outputs(build):
    """The towers without their final maps, then those maps, give CLIP's own image and text outputs."""
    model = build()
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 64, 64, generator=gen)
    tokens = torch.randint(1, 100, (3, 32), generator=gen)
    with torch.no_grad():
        want_a, want_b = model.encode_image(images), model.encode_text(tokens)
        bare = copy.deepcopy(model)
        proj_a, proj_b = _openclip.own_projections(bare, "test")
        got_a, got_b = proj_a(bare.encode_image(images)), proj_b(bare.encode_text(tokens))
        assert not torch.allclose(bare.encode_image(images)[:, : want_a.shape[1]], want_a)  # the map is off
    torch.testing.assert_close(got_a, want_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_b, want_b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
def test_clip_heads_build_no_extra_head_and_start_from_clips_scale(cell):
    """heads=clip: identity heads, no parameter outside the towers but the scale, which starts at CLIP's
    learned scale whatever the method's temperature; heads=fresh: fresh heads from the temperature."""
    name, extra = CELLS[cell]
    method = _method("clip", temperature="0.05")
    task = _task(name, **extra)
    data = task.load()
    model = build_model(task, method, data, task.p)
    assert isinstance(model.head_a, nn.Identity) and isinstance(model.head_b, nn.Identity)
    outside = [n for n, _ in model.named_parameters() if not n.startswith(("encoder_a.", "encoder_b."))]
    assert outside == ["log_scale"]
    clip_scale = _openclip.logit_scale(_openclip.build("rs-tiny", "none", "test")[0])
    assert model.logit_scale().item() == pytest.approx(clip_scale)  # 1/0.07 (random weights), not 1/0.05
    if (
        extra["mode"] == "frozen"
    ):  # CLIP's projections train from CLIP's weights, with the scale, at encoder_lr
        groups = model.param_groups(task.p["lr"], task.p["encoder_lr"], 0.0)
        assert [g["lr"] for g in groups] == [task.p["encoder_lr"]]
        assert any(p is model.log_scale for p in groups[0]["params"])
        assert isinstance(model.encoder_a.projection, nn.Linear)

    fresh = _task(name, **extra, heads="fresh")
    model = build_model(fresh, method, fresh.load(), fresh.p)
    assert isinstance(model.head_a, ProjectionHead) and isinstance(model.head_b, ProjectionHead)
    assert model.logit_scale().item() == pytest.approx(20.0)


@pytest.mark.parametrize("name", ["rs", "vl"])
def test_frozen_clip_heads_start_in_clips_own_space(name):
    """Frozen, heads=clip: the embeddings of the cached inputs of CLIP's projections equal the unit
    features that heads=fresh caches (CLIP's outputs), to the caches' half precision."""
    extra = {"mode": "frozen", **(TINY if name == "vl" else {})}
    method = _method("clip")
    own, fresh = _task(name, **extra), _task(name, **extra, heads="fresh")
    data_own, data_fresh = own.load(), fresh.load()
    model = build_model(own, method, data_own, own.p).eval()
    key = "test_images" if name == "vl" else next(k for k in data_own.eval if k.endswith("images"))
    with torch.no_grad():
        got = model.embed_a(data_own.eval[key])
    torch.testing.assert_close(got, data_fresh.eval[key], atol=3e-3, rtol=0)


@pytest.mark.parametrize("name", registry.tasks().names())
def test_s_clip_keyword_targets_are_distributions_on_every_tasks_default_cell(name, tmp_path, monkeypatch):
    """One s_clip cell with its defaults on the task's smoke parameters: every keyword target that the
    keyword term computes is finite and in [0, 1], each row with a candidate summing to 1; a task with a
    keyword vocabulary computes some."""
    seen = []

    def spy(cos, candidates, floor):
        t = keyword_targets(cos, candidates, floor)
        seen.append((t.detach().clone(), candidates.any(1).to(t.dtype)))
        return t

    keyword_targets = pseudo.keyword_targets
    monkeypatch.setattr(pseudo, "keyword_targets", spy)
    task = _task(name)
    method = registry.methods().get("s_clip")
    spec = RunSpec("s_clip", name, 0.5, 0, 0, method.resolve({}), task.p)
    folder = Store(tmp_path / "results").create(spec, spec.run_id())
    assert execute(folder) == "done", folder.status().get("error")
    if task.load().keyword_mask is not None:
        assert seen, f"{name} has keywords and s_clip computed no keyword target"
    for t, has_candidate in seen:
        assert torch.isfinite(t).all() and (t >= 0).all() and (t <= 1).all()
        torch.testing.assert_close(t.sum(1), has_candidate)
