"""rs: remote sensing image (A) ↔ caption (B), the S-CLIP benchmark (docs/tasks.md, "rs").

Train pool: the train splits of the caption sets (default RSICD and Sydney-Captions; S-CLIP's RS-ALL
adds UCM-Captions, which has no hub copy: `datasets=rsicd,ucm,sydney`); retrieval on their
evaluation splits (S-CLIP's `val`, `splits` to change) over all five captions; zero-shot on RSICD-CLS,
UCM-CLS, WHU-RS19, RSSCN7 and AID.
Encoders: open_clip by name and pretrained tag, `frozen` (features cached once, the projections
train) or `finetune` (end to end on raw pixels). `heads=clip` (default, S-CLIP's regime): no fresh head,
CLIP's own projections fine-tune from CLIP's weights and its learned scale; `heads=fresh`: fresh heads on
CLIP's outputs. Data: sources.py and data.py (`source=synthetic[:N]`:
generated scenes that need no download, synthetic.py); inputs of both modes: inputs.py and
features.py; towers.py; images.py (views); evaluate.py (both retrieval protocols, alignment, zero-shot;
the protocol of each metric in TaskData.about).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import torch
from torch import Tensor, nn

from bench.params import Param
from tasks import _openclip, _sentences, contamination
from tasks._frozen import PIXELS_SIDE, FrozenInputs, FrozenLookup, FrozenPixels, FrozenTower
from tasks.base import Task, TaskData, take
from tasks.rs import data, features, inputs, sources, synthetic, towers
from tasks.rs.evaluate import evaluate, evaluate_items, protocols
from tasks.rs.images import image_caption_views

SOURCE_HELP = "hf:<owner>/<name>, hf:/path/to/folder, local:DIR or synthetic[:N]"


def _split_rules(text: str) -> list[tuple[bool, str]]:
    """The `splits` parameter: name=split pairs, each a known dataset and a split it can be scored on."""
    rules = []
    for pair in data.names(text):
        name, eq, split = (x.strip() for x in pair.partition("="))
        zs = name in sources.ZS_SETS
        allowed = ("train", "val", "test", "all") if zs else ("train", "val", "test")
        rules += [
            (
                bool(eq) and name in sources.DEFAULT_SPLITS,
                f"splits: {pair!r} must be name=split with a name among {', '.join(sources.DEFAULT_SPLITS)}",
            ),
            (split in allowed, f"splits: {name}={split!r}: the split must be one of {', '.join(allowed)}"),
        ]
    return rules


class RemoteSensing(Task):
    name = "rs"
    label = "Remote sensing"
    order = 30
    primary_metric = "zs_top1_mean"
    train_defaults = {"steps": 1000, "batch_size": 64, "encoder_lr": 5e-5}
    params = {
        "source": Param(
            "",
            "local:ROOT: every dataset from local:ROOT/<its name>; synthetic[:N]: every dataset "
            f"generated (offline, N train items per caption set, default {synthetic.DEFAULT_N}); "
            "overrides the ones below",
        ),
        **{d: Param(s, f"caption set {d}: {SOURCE_HELP}") for d, s in sources.CAPTION_SETS.items()},
        **{z: Param(s, f"zero-shot set {z}: {SOURCE_HELP}") for z, s in sources.ZS_SETS.items()},
        "datasets": Param(
            "rsicd,sydney",
            "caption sets: their train splits pool, their evaluation splits (splits) rank; S-CLIP's RS-ALL "
            "adds ucm, which has no hub copy: datasets=rsicd,ucm,sydney with ucm=local:DIR or hf:/folder",
        ),
        "zero_shot": Param("rsicd_cls,ucm_cls,whu_rs19,rsscn7,aid", "zero-shot sets (comma list, or none)"),
        "splits": Param(
            "",
            "evaluation split per dataset, over S-CLIP's ("
            + ",".join(f"{k}={v}" for k, v in sources.DEFAULT_SPLITS.items())
            + "): name=split pairs, comma-separated (val, test, train, or all for a zero-shot set)",
        ),
        "contamination": contamination.PARAM,
        "templates": Param("an aerial photograph of {c}.", "zero-shot prompt templates, '|'-separated"),
        "encoder": Param("RN50", "open_clip model name (rs-tiny: the small test configuration)"),
        "pretrained": Param("openai", "open_clip pretrained tag, or none for random weights"),
        "mode": Param(
            "frozen",
            "frozen: cached features, heads train; finetune: end to end",
            choices=("frozen", "finetune"),
        ),
        "heads": Param(
            "clip",
            "clip: CLIP's own projections and learned scale, no fresh head (S-CLIP's regime); fresh: fresh "
            "projection heads on CLIP's outputs, from the method's temperature",
            choices=("clip", "fresh"),
        ),
        "frozen_text": Param(
            "minilm",
            "the caption features a frozen-feature method (asif, cca, sotalign's teacher, ...) fits on: "
            "minilm, MiniLM sentence features (a unimodal text encoder, offline), or clip, CLIP's own text "
            "tower",
            choices=("minilm", "clip"),
        ),
        "n_views": Param(4, "frozen: SimCLR views cached per train image (at least 2)", valid="[1, inf)"),
        "view_seed": Param(
            0, "frozen: seed of the cached views", valid=f"[0, {2**63 - features.VIEW_SEED})"
        ),  # seeds a generator with features.VIEW_SEED + view_seed, below 2^63
        "n_captions": Param(5, "captions per train item (cycled when an item has fewer)", valid="[1, inf)"),
        "keywords": Param(
            "classes",
            "s_clip keywords: zero-shot class names, mined from captions, or none",
            choices=("classes", "mined", "none"),
        ),
        "n_keywords": Param(100, "keywords=mined: the most frequent caption words kept", valid="[1, inf)"),
        "eval_batch": Param(256, "rows per forward pass in evaluation", valid="[1, inf)"),
    }

    smoke_params = {
        "source": "synthetic:8",
        "encoder": "rs-tiny",
        "pretrained": "none",
        "n_views": 2,
        "n_captions": 2,
        "steps": 5,
        "batch_size": 8,
        "checkpoint_every": 0,
        "eval_batch": 64,
    }
    bad_params = {"mode": "frozen", "n_views": 1}

    def __init__(self, **values: Any):
        super().__init__(**values)
        self._model = None
        self._projections = None  # frozen, heads=clip: CLIP's own projections and scale, from the cache

    def provides(self) -> dict[str, str]:
        none = "keywords=none gives no keyword vocabulary; set --task-param keywords=classes or mined"
        return {"keywords": none if self.p["keywords"] == "none" else ""}

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        datasets, zero_shot, source = data.names(p["datasets"]), data.names(p["zero_shot"]), p["source"]
        templates = inputs.templates(p)
        self.refuse(
            [
                (
                    p["mode"] != "frozen" or p["n_views"] >= 2,
                    "n_views must be at least 2 in frozen mode (two different cached views)",
                ),
                (
                    bool(datasets) and not set(datasets) - set(sources.CAPTION_SETS),
                    f"datasets must name some of {', '.join(sources.CAPTION_SETS)}",
                ),
                (
                    not set(zero_shot) - set(sources.ZS_SETS),
                    f"zero_shot may name only {', '.join(sources.ZS_SETS)}",
                ),
                (
                    bool(zero_shot),
                    f"zero_shot=none leaves the task without its primary metric {self.primary_metric} "
                    "(the mean zero-shot top-1 accuracy); name at least one zero-shot set",
                ),
                *_split_rules(p["splits"]),
                (
                    source in ("", "synthetic") or source.startswith(("local:", "synthetic:")),
                    "source must be local:ROOT, synthetic[:N], or empty (each dataset its own source)",
                ),
                (
                    bool(templates) and all("{c}" in t for t in templates),
                    "templates must be one or more '|'-separated prompts, each with {c} (the class name)",
                ),
            ]
        )
        if source.startswith("synthetic"):
            synthetic.size(source)

    def prepare(self) -> dict[str, Any]:
        """Fetch every dataset (and the weights); in frozen mode build the feature cache."""
        if self.p["mode"] == "frozen":
            return inputs.counts(features.frozen(self.p))
        return inputs.counts(self._finetune_inputs())

    def _finetune_inputs(self) -> dict[str, Any]:
        raw = data.read(self.p)
        self._model = _openclip.build(self.p["encoder"], self.p["pretrained"], self.name)
        _, tokenize, size, _, _ = self._model
        return {**inputs.model_inputs(raw, tokenize, size, self.p), "about": raw.about}

    def load(self) -> TaskData:
        frozen = self.p["mode"] == "frozen"
        x = dict(features.frozen(self.p)) if frozen else self._finetune_inputs()
        if frozen and self.p["heads"] == "clip":
            self._projections = _openclip.projections(x)
        about = x.pop("about")
        about = json.loads(about) if isinstance(about, str) else about
        return TaskData(
            about={**about, "protocols": protocols(x, about, inputs.templates(self.p))},
            train_a=x["train_a"].float() if frozen else x["train_a"],
            train_b=x["train_b"].float() if frozen else x["train_b"],
            keywords=x["keywords"].float() if frozen and "keywords" in x else x.get("keywords"),
            keyword_mask=x.get("keyword_mask"),
            eval={k: v.float() if frozen and v.is_floating_point() else v for k, v in x.items()},
        )

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """heads=clip: towers whose output is CLIP's own space (no fresh head); frozen: the cached features,
        through CLIP's own projections (copies) with heads=clip; finetune: open_clip's towers (a copy)."""
        own = self.p["heads"] == "clip"
        if self.p["mode"] == "frozen":
            dim = data.train_a.shape[-1]
            if not own:
                return towers.FeatureTower(dim, captions=False), towers.FeatureTower(dim, captions=True)
            proj_a, proj_b, scale = copy.deepcopy(self._projections)
            return (
                towers.FeatureTower(dim, False, proj_a, scale),
                towers.FeatureTower(data.train_b.shape[-1], True, proj_b, scale),
            )
        model, _, _, mean, std = self._model
        return _openclip.towers(copy.deepcopy(model), mean, std, self.p["pretrained"] != "none", own)

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """Images: the open_clip image tower's features (the cached ones in frozen mode, the tower kept frozen
        in finetune mode; with pretrained=none in finetune mode, raw pixels, tasks/_frozen.py
        `FrozenPixels`). Captions: frozen_text=minilm, MiniLM sentence features (features.py `sentences`),
        looked up by the caption's input (tasks/_frozen.py `FrozenLookup`); frozen_text=clip, the open_clip
        text tower's (cached, or kept frozen; the random tower with pretrained=none, so named)."""
        p = self.p
        tag = p["pretrained"] if p["pretrained"] != "none" else "random weights"
        names = f"{p['encoder']} {tag} image", f"{p['encoder']} {tag} text"
        if p["mode"] == "frozen":
            image = FrozenInputs(data.train_a.shape[-1], names[0])
            clip_text = FrozenInputs(data.train_b.shape[-1], names[1])
        else:
            towers = self.encoders(data)
            pixels = p["pretrained"] == "none"
            image = FrozenPixels(self._model[2], PIXELS_SIDE) if pixels else FrozenTower(towers[0], names[0])
            clip_text = FrozenTower(towers[1], names[1])
        return image, self._sentence_lookup(data) if p["frozen_text"] == "minilm" else clip_text

    def _sentence_lookup(self, data: TaskData) -> FrozenLookup:
        """MiniLM's features of every text input, looked up by the task's input of the text."""
        found = features.sentences(self.p)
        pairs = [(data.train_b[:, 0] if k == "train_b" else data.eval[k], v) for k, v in found.items()]
        return FrozenLookup(pairs, _sentences.MINILM)

    def views(self, side: str, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Images: two cached SimCLR views (frozen) or two fresh ones on raw pixels (finetune).
        Captions: two different captions of the same image."""
        return image_caption_views(self.p["mode"] == "frozen", side, x, generator)

    def evaluate(self, model: Any, data: TaskData, paired: Tensor) -> dict[str, float]:
        return evaluate(model, data.eval, len(inputs.templates(self.p)), self.p["eval_batch"])

    def evaluate_items(self, model: Any, data: TaskData, idx: Tensor) -> dict[str, float]:
        """Retrieval on the held-out train items (tune with --metric ret_r1_mean or a2b_r1)."""
        images, captions = take(data.train_a, idx), take(data.train_b, idx)
        return evaluate_items(model, images, captions, self.p["eval_batch"])
