"""The evaluation protocols a metric can be measured under: each task records, per metric, a protocol
record (TaskData.about `protocols`: {"protocol": NAME, "set", "split", "queries", "gallery", ...}) that
`collect` writes as `protocol_<metric>` and the tables read (docs/tasks.md, "Retrieval protocols").
Nothing here imports torch.
"""

from __future__ import annotations

import json

PROTOCOLS = {
    "all_captions": "retrieval, every caption of an item a positive (CLIP_benchmark; RemoteCLIP, GeoRSCLIP)",
    "one_caption": "retrieval on one caption drawn per item, n × n, the diagonal positive (open_clip "
    "get_clip_metrics; S-CLIP, SemiCLIP, ToMA)",
    "same_text": "retrieval, every item of the same text a positive (protein)",
    "paired_rows": "retrieval, row i of one side the positive of row i of the other (synthetic)",
    "zero_shot": "classification of images among class prompts",
    "alignment": "mutual kNN, CKA, CKNNA of paired rows (platonic-rep metrics.py)",
    "reference": "a value without training",
}

# How zero-shot class scores pool a class's prompt templates (tasks/metrics.py `class_scores`): the score of
# the mean template embedding, or the best template's score; a model may say which (`prompt_pooling`).
PROMPT_POOLING = ("mean", "max")

_RECALLS = tuple(f"{d}_r{k}" for d in ("a2b", "b2a") for k in (1, 5, 10))
# The metric names of each protocol, bare or after "<set>_" (rs_a2b_r1): what a published row may name.
METRICS = {
    "all_captions": (*_RECALLS, "recall_mean"),
    "one_caption": (*(f"one_{m}" for m in _RECALLS), "one_recall_mean"),
    "same_text": (*_RECALLS, "a2b_map", "b2a_map"),
    "paired_rows": _RECALLS,
    "zero_shot": ("top1", "top5", "mpcr", "zs_top1", "zs_top5", "zs_mpcr", "zs_top1_mean"),
    "alignment": ("align_mknn", "align_cka", "align_cknna"),
    "reference": (),
}


def describe(record: dict) -> str:
    """A protocol record in one line: "all_captions: set=rsicd, split=val, ..." (keys in their order)."""
    rest = ", ".join(f"{k}={v}" for k, v in record.items() if k != "protocol")
    return f"{record.get('protocol', '?')}: {rest}" if rest else str(record.get("protocol", "?"))


def encode(record: dict) -> str:
    """The record as the `protocol_<metric>` column holds it: JSON with its keys in order."""
    return json.dumps(record, ensure_ascii=False)


def decode(text) -> dict:
    """The record of a `protocol_<metric>` cell ({} for a missing or unreadable one)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
