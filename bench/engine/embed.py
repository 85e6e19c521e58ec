"""Turn a step's indices into the lazily computed BatchEmbeddings that a method consumes."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from methods.base import BatchEmbeddings
from tasks.base import Task, TaskData, take


def to_device(x: Any, device: torch.device) -> Any:
    return x.to(device) if hasattr(x, "to") else x


def batch_embeddings(
    model: Any,
    task: Task,
    data: TaskData,
    idx: tuple[Tensor, Tensor, Tensor],
    view_gen: torch.Generator,
    device: torch.device,
) -> BatchEmbeddings:
    """Embeddings of paired rows idx[0], unpaired A rows idx[1], unpaired B rows idx[2]; each computed
    only when the method asks for it, views drawn with `view_gen`."""
    idx_p, idx_a, idx_b = idx

    def rows(pool: Any, i: Tensor) -> Any:
        return to_device(take(pool, i), device)

    def views(side: str, pool: Any, i: Tensor) -> tuple[Tensor, Tensor]:
        embed = model.embed_a if side == "a" else model.embed_b
        v1, v2 = task.views(side, rows(pool, i), view_gen)
        return embed(to_device(v1, device)), embed(to_device(v2, device))

    producers = {
        "a_p": lambda: model.embed_a(rows(data.train_a, idx_p)),
        "b_p": lambda: model.embed_b(rows(data.train_b, idx_p)),
        "a_u": lambda: model.embed_a(rows(data.train_a, idx_a)),
        "b_u": lambda: model.embed_b(rows(data.train_b, idx_b)),
        "views_a": lambda: views("a", data.train_a, torch.cat([idx_p, idx_a])),
        "views_b": lambda: views("b", data.train_b, torch.cat([idx_p, idx_b])),
        "keywords": lambda: (
            None if data.keywords is None else model.embed_b(to_device(data.keywords, device))
        ),
    }
    same_b_p = None
    if data.b_ids is not None:
        ids = data.b_ids[idx_p].to(device)
        same_b_p = ids[:, None] == ids[None, :]
    kw_mask = None if data.keyword_mask is None else data.keyword_mask[idx_p].to(device)
    return BatchEmbeddings(lambda key: producers[key](), model.logit_scale(), len(idx_p), same_b_p, kw_mask)
