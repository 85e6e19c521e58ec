"""Helpers that several tasks use: the model's device, batched embedding of a pool, an MLP tower,
and two different cached rows of each item (the views of the self-supervised term).

The leading underscore keeps the task registry (bench/registry.py) from looking for a task here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from tasks.base import take


def model_device(model: Any) -> torch.device:
    """Where the model's parameters live: the CPU for a model without any, or one that is no nn.Module."""
    params = model.parameters() if isinstance(model, nn.Module) else iter(())
    return next(params, torch.empty(0)).device


def embed_pool(
    fn: Callable[[Tensor], Tensor],
    items: Any,
    device: torch.device,
    batch: int,
    transform: Callable[[Tensor], Tensor] | None = None,
    desc: str | None = None,
) -> Tensor:
    """`fn` over every row of `items` (a Tensor, or a pool with `take` and `__len__`), `batch` rows at a
    time, in order: each batch taken, passed through `transform` where given (before it moves), moved to
    `device`; the outputs are concatenated on the CPU. `desc` shows a progress bar over the batches."""
    starts = range(0, len(items), batch)
    if desc is not None:
        starts = tqdm(starts, desc=desc, leave=False, disable=len(items) <= batch)
    out = []
    for start in starts:
        x = take(items, torch.arange(start, min(start + batch, len(items))))
        x = transform(x) if transform is not None else x
        out.append(fn(x.to(device)).cpu())
    return torch.cat(out)


class MLPTower(nn.Module):
    """A tower trained from scratch: Linear → GELU → [Dropout] → Linear → GELU, out_dim = width.

    The Dropout layer exists only when `dropout` > 0. A 3-D input (n, k, F) is read at row 0 of each
    item (e.g. the whole sequence before its cached crops); a 2-D input (n, F) as it is."""

    def __init__(self, in_dim: int, width: int, dropout: float = 0.0):
        super().__init__()
        self.out_dim = width
        layers: list[nn.Module] = [nn.Linear(in_dim, width), nn.GELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers, nn.Linear(width, width), nn.GELU())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x[:, 0] if x.dim() == 3 else x)


def two_rows(x: Tensor, first: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two different rows among rows `first`.. of each item of x (n, k, ...), drawn with `generator`
    (on its own device): one uniform, the other a uniform non-zero shift of it, modulo the row count.
    With a single such row both are that row."""
    n, k = x.shape[0], x.shape[1] - first
    one = torch.randint(k, (n,), generator=generator, device=generator.device)
    other = one
    if k > 1:
        other = (one + torch.randint(1, k, (n,), generator=generator, device=generator.device)) % k
    rows = torch.arange(n, device=x.device)
    return x[rows, first + one.to(x.device)], x[rows, first + other.to(x.device)]


def generated_size(source: str, default: int, what: str) -> int:
    """N of a generated source `synthetic` (`default`) or `synthetic:N`; `what` names the task and its
    items in the one-line BenchError for a malformed one."""
    from bench.errors import BenchError

    arg = source.partition(":")[2]
    if not arg:
        return default
    if not arg.isdigit() or int(arg) < 2:
        raise BenchError(f"{what}: source={source!r}: write synthetic or synthetic:N with N ≥ 2")
    return int(arg)
