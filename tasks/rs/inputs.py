"""Model inputs of the task as one flat dict, the same keys in both modes.

`train_a` images, `train_b` (N, m, ·) captions, `keywords` and `keyword_mask`, and per retrieval set d
`ret/d/images`, `ret/d/texts` (every caption, item by item) and `ret/d/owner` (the image of each
caption); per zero-shot set z `zs/z/images`, `zs/z/labels` and `zs/z/prompts` (template-major).
Fine-tuning: images are ImagePools (raw pixels) and texts are tokens; frozen: all are features.
"""

from __future__ import annotations

from typing import Any

import torch

from tasks.rs import data
from tasks.rs.images import ImagePool


def templates(p: dict[str, Any]) -> list[str]:
    return [t.strip() for t in p["templates"].split("|") if t.strip()]


def texts(raw: data.Raw, p: dict[str, Any], vocab: list[str]) -> dict[str, list[str]]:
    """Every text input as strings, row for row: `train_b` the m = n_captions captions of each train item,
    item by item; `keywords` (the prompts of the keyword vocabulary `vocab`, first template; none without
    one), `ret/d/texts`, `zs/z/prompts`."""
    out = {"train_b": data.fixed_captions(raw.train.captions, p["n_captions"])}
    if vocab:
        out["keywords"] = [templates(p)[0].format(c=k) for k in vocab]
    for name, split in raw.tests.items():
        out[f"ret/{name}/texts"] = [c for caps in split.captions for c in caps]
    for name, zs in raw.zero_shot.items():
        out[f"zs/{name}/prompts"] = data.prompts(zs, templates(p))
    return out


def vocabulary(raw: data.Raw, p: dict[str, Any]) -> list[str]:
    """The keyword vocabulary of the task parameters `p` (data.keywords)."""
    return data.keywords(raw, p["keywords"], p["n_keywords"])


def model_inputs(raw: data.Raw, tokenize, size: int, p: dict[str, Any]) -> dict[str, Any]:
    """Images as pools of `size` px, texts (`texts`) as tokens of `tokenize` (open_clip's tokenizer)."""
    vocab = vocabulary(raw, p)
    words = texts(raw, p, vocab)
    n = len(raw.train.images)
    out: dict[str, Any] = {
        "train_a": ImagePool(raw.train.images, size),
        "train_b": tokenize(words["train_b"]).view(n, p["n_captions"], -1),
    }
    if vocab:
        out["keywords"] = tokenize(words["keywords"])
        out["keyword_mask"] = data.keyword_mask(raw.train.captions, vocab)
    for name, split in raw.tests.items():
        out[f"ret/{name}/images"] = ImagePool(split.images, size)
        out[f"ret/{name}/texts"] = tokenize(words[f"ret/{name}/texts"])
        out[f"ret/{name}/owner"] = torch.tensor([i for i, caps in enumerate(split.captions) for _ in caps])
    for name, zs in raw.zero_shot.items():
        out[f"zs/{name}/images"] = ImagePool(zs.images, size)
        out[f"zs/{name}/labels"] = torch.tensor(zs.labels)
        out[f"zs/{name}/prompts"] = tokenize(words[f"zs/{name}/prompts"])
    return out


def counts(inputs: dict[str, Any]) -> dict[str, int]:
    """Items per split, for the summary of `python -m bench data rs`."""
    out = {"n_train": len(inputs["train_a"]), "n_keywords": len(inputs.get("keywords", []))}
    for key, value in inputs.items():
        kind, _, rest = key.partition("/")
        if rest.endswith("/images"):
            out[f"n_{kind}_{rest.split('/')[0]}"] = len(value)
        if kind == "zs" and rest.endswith("/labels"):
            out[f"n_classes_{rest.split('/')[0]}"] = int(value.max()) + 1 if len(value) else 0
    return out
