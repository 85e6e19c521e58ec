"""Embed one training step: the step's encoder inputs (StepInputs) → the BatchEmbeddings a method consumes.

`embed_step` runs one forward pass per modality where the inputs allow it: the parts of modality A that
the method reads (the a_p rows, the a_u rows, the views v1 and v2) are concatenated along rows when they
are Tensors of the same trailing shape and dtype, embedded by `model.embed_a` at once, and split back;
parts that cannot be concatenated (e.g. rs captions (n, m, L) and caption views (n, L), or inputs that
are not Tensors) are embedded one group at a time. The same holds for B; the keyword vocabulary is a
pass of B of its own. The frozen features of the unpaired rows (`feat_a_u`, `feat_b_u`, for a method that
fits) are looked up in the run's FitData by the step's indices, with no pass at all.

One pass gives the same embeddings as separate passes for towers whose rows do not interact: MLPs,
transformers, and heads without dropout. A tower with BatchNorm in train mode (e.g. RN50) normalises
with the statistics of the whole pass, so one pass over [rows; v1; v2] sees other batch statistics than
three passes, and dropout draws other masks: `single_pass=False` embeds every part on its own.

With a `Dist` of several ranks (bench/engine/distributed.py) every rank holds the same global inputs,
embeds only its contiguous shard of each pass and gathers the others' rows (keeping their gradients), so
the BatchEmbeddings hold the global batch and the method's loss is the single-process loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from bench.engine.inputs import StepInputs
from methods.base import BatchEmbeddings, FitData
from tasks.base import TaskData, take

if TYPE_CHECKING:
    from bench.engine.distributed import Dist
    from bench.engine.precision import Precision


def to_device(x: Any, device: torch.device) -> Any:
    """`x` on `device` when it can move (`x.to`), else `x` itself."""
    return x.to(device) if hasattr(x, "to") else x


def embed_step(
    model: Any,
    data: TaskData,
    inputs: StepInputs,
    wanted: frozenset[str],
    device: torch.device,
    precision: Precision,
    dist: Dist | None = None,
    single_pass: bool = True,
    features: FitData | None = None,
) -> BatchEmbeddings:
    """The BatchEmbeddings of the keys in `wanted` (methods.base.EMBEDDINGS), all computed now, float32.

    views_x = (v1, v2) of the rows [x_p; x_u]; in the original layout (v1 None) v1 is the embedding of
    the rows [x_p; x_u] themselves; feat_x_u, the rows of `features` (the run's FitData) of the step's
    unpaired items. Asking the result for a key outside `wanted` is a KeyError."""
    table: dict[str, Any] = {}
    for side, embed in (("a", model.embed_a), ("b", model.embed_b)):
        parts = side_parts(side, inputs, wanted)
        done = embed_parts(embed, parts, device, precision, dist, single_pass)
        table.update(side_embeddings(side, done, inputs, wanted))
    if "keywords" in wanted:
        kw = {} if data.keywords is None else {"keywords": data.keywords}
        table["keywords"] = embed_parts(model.embed_b, kw, device, precision, dist, single_pass).get(
            "keywords"
        )
    for side, idx in (("a", inputs.idx[1]), ("b", inputs.idx[2])):
        if f"feat_{side}_u" in wanted:
            if features is None:
                raise ValueError(
                    f"feat_{side}_u is wanted but the run has no FitData (its method does not fit)"
                )
            table[f"feat_{side}_u"] = features.unpaired_rows(side, idx).to(device)
    return BatchEmbeddings(
        served(table),
        model.logit_scale(),
        inputs.n_paired,
        same_b(inputs, device),
        kw_mask(data, inputs, device),
        model.logit_bias,
    )


def side_parts(side: str, inputs: StepInputs, wanted: frozenset[str]) -> dict[str, Any]:
    """The inputs of modality `side` to embed, in pass order: rows x_p, x_u (when read directly, or as
    view 1 of the original layout), then views v1, v2 (when views_x is wanted)."""
    views = getattr(inputs, f"views_{side}") if f"views_{side}" in wanted else None
    if f"views_{side}" in wanted and views is None:
        raise ValueError(f"views_{side} is wanted but step {inputs.step} carries no views of {side.upper()}")
    original = views is not None and views[0] is None
    parts = {}
    for key in (f"{side}_p", f"{side}_u"):
        if key in wanted or original:
            rows = getattr(inputs, key)
            if rows is None:
                raise ValueError(f"{key} is needed but step {inputs.step} carries no {key} rows")
            parts[key] = rows
    if views is not None:
        if not original:
            parts[f"{side}_v1"] = views[0]
        parts[f"{side}_v2"] = views[1]
    return parts


def side_embeddings(
    side: str, done: dict[str, Tensor], inputs: StepInputs, wanted: frozenset[str]
) -> dict[str, Any]:
    """The BatchEmbeddings entries of one modality from its embedded parts."""
    out = {key: done[key] for key in (f"{side}_p", f"{side}_u") if key in wanted}
    if f"views_{side}" in wanted:
        v1 = done.get(f"{side}_v1")
        if v1 is None:  # original layout: the rows themselves are view 1
            v1 = torch.cat([done[f"{side}_p"], done[f"{side}_u"]])
        out[f"views_{side}"] = (v1, done[f"{side}_v2"])
    return out


def embed_parts(
    embed: Any,
    parts: dict[str, Any],
    device: torch.device,
    precision: Precision,
    dist: Dist | None,
    single_pass: bool,
) -> dict[str, Tensor]:
    """name → float32 embedding of each part; one `embed` call per group of concatenable parts."""
    out: dict[str, Tensor] = {}
    for group in pass_groups(parts, single_pass):
        xs = [to_device(parts[name], device) for name in group]
        x = torch.cat(xs) if len(xs) > 1 else xs[0]
        z = embed_rows(embed, x, precision, dist)
        out.update(zip(group, torch.split(z, [n_rows(p) for p in xs]), strict=True))
    return out


def pass_groups(parts: dict[str, Any], single_pass: bool) -> list[list[str]]:
    """The part names grouped into forward passes, in order: Tensors of equal trailing shape and dtype
    share a pass (with `single_pass`); any other part has a pass of its own."""
    groups: dict[Any, list[str]] = {}
    for i, (name, x) in enumerate(parts.items()):
        key = (x.shape[1:], x.dtype) if single_pass and isinstance(x, Tensor) else i
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def embed_rows(embed: Any, x: Any, precision: Precision, dist: Dist | None) -> Tensor:
    """embed(x) in float32, under the run's autocast; with several ranks each embeds its shard of the
    rows and the shards are gathered in rank order (with their gradients)."""
    if dist is None or dist.world == 1:
        with precision.autocast():
            return embed(x).float()
    n = n_rows(x)
    local = dist.shard(n)
    with precision.autocast():
        z = embed(shard_rows(x, local)).float()
    return dist.gather(z, n)


def n_rows(x: Any) -> int:
    return x.shape[0] if isinstance(x, Tensor) else len(x)


def shard_rows(x: Any, part: slice) -> Any:
    """Rows `part` of an encoder input: a Tensor is sliced, anything else answers `take(idx)`."""
    return x[part] if isinstance(x, Tensor) else take(x, torch.arange(part.start, part.stop))


def served(table: dict[str, Any]) -> Any:
    """The embed callable of BatchEmbeddings over precomputed `table`; an undeclared key is a KeyError."""

    def embed(key: str) -> Any:
        if key not in table:
            raise KeyError(
                f"the method read embedding {key!r} but its embeddings() declared only {sorted(table)}"
            )
        return table[key]

    return embed


def same_b(inputs: StepInputs, device: torch.device) -> Tensor | None:
    """(b_p × b_p) True where two paired rows have the same B content (inputs.b_ids_p), or None."""
    if inputs.b_ids_p is None:
        return None
    ids = inputs.b_ids_p.to(device)
    return ids[:, None] == ids[None, :]


def kw_mask(data: TaskData, inputs: StepInputs, device: torch.device) -> Tensor | None:
    """(b_p × K) the keywords of each paired row's B content (data.keyword_mask), or None."""
    if data.keyword_mask is None:
        return None
    return data.keyword_mask[inputs.idx[0]].to(device)
