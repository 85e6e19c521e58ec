"""Data-parallel training: one run on several ranks (processes), each embedding a shard of every step.

The ranks come from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT); `bench run --nproc N` (bench/cell/ranks.py) and a SLURM job of several tasks
(bench/cluster/job.py) set the same. Every rank builds the same model from the same seed, draws the same
batches and views, and so holds the same global StepInputs; `embed_step` (bench/engine/embed.py) embeds the
rank's `shard` of each forward pass and `gather`s the rows of all ranks, so every rank computes the full
single-process loss L on the global batch. After backward, `average_gradients` makes each rank's gradient the
single-process one:

- `gather` is torch.distributed.nn.functional.all_gather, whose backward hands each rank the SUM over
  ranks of the gradients of its rows; each rank's loss is the same L, so rank r's rows z_r get W·∂L/∂z_r
  (W ranks). A parameter θ then holds g_r = W·J_rᵀ ∂L/∂z_r + ∂L/∂θ|direct on rank r, with J_r the
  Jacobian of z_r and ∂L/∂θ|direct what L reads of θ outside the embeddings (the CLIP scale t);
- the mean over ranks is (1/W)·Σ_r W·J_rᵀ ∂L/∂z_r + ∂L/∂θ|direct = Σ_r J_rᵀ ∂L/∂z_r + ∂L/∂θ|direct
  = ∂L/∂θ, the gradient of one process embedding all rows, up to float32 summation order.

Towers with BatchNorm in train mode normalise each rank's shard with its own statistics, as DDP does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as td
import torch.distributed.nn.functional as tdf
from torch import Tensor, nn


@dataclass(frozen=True)
class Dist:
    """This process's rank among `world` ranks, its rank on its node, and the device it computes on."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def from_env(cls, device: torch.device | None = None) -> Dist:
        """The ranks of the environment (one rank when WORLD_SIZE is unset or 1). With several, joins the
        process group once (gloo for CPU tensors, nccl for CUDA ones where there is a GPU); a rank on
        CUDA computes on cuda:LOCAL_RANK. `device`: the run's device type (default: CUDA if any)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        cuda = torch.cuda.is_available() if device is None else device.type == "cuda"
        if world == 1:
            return cls(device=device or torch.device("cuda" if cuda else "cpu"))
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local)
        if not td.is_initialized():
            backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
            td.init_process_group(backend, rank=rank, world_size=world)
        return cls(rank, world, local, torch.device("cuda", local) if cuda else torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes the run folder."""
        return self.rank == 0

    def sizes(self, n: int) -> list[int]:
        """Rows of each rank's shard of n rows: ⌊n/W⌋, one more for the first n mod W ranks."""
        base, extra = divmod(n, self.world)
        return [base + (r < extra) for r in range(self.world)]

    def shard(self, n: int) -> slice:
        """This rank's contiguous rows of n, in rank order."""
        sizes = self.sizes(n)
        start = sum(sizes[: self.rank])
        return slice(start, start + sizes[self.rank])

    def gather(self, z_local: Tensor, n: int) -> Tensor:
        """The n rows of all ranks' shards (`shard(n)` each) in rank order, differentiable: the backward
        gives z_local the sum over ranks of its rows' gradients (see the module's docstring)."""
        if self.world == 1:
            return z_local
        sizes = self.sizes(n)
        pad = max(sizes) - len(z_local)  # all_gather moves equal shapes: pad to the largest shard
        padded = torch.cat([z_local, z_local.new_zeros(pad, *z_local.shape[1:])]) if pad else z_local
        parts = tdf.all_gather(padded)
        return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)])

    def average_gradients(self, model: nn.Module) -> None:
        """p.grad ← mean over ranks of p.grad for every parameter with a gradient, one all-reduce per
        (device, dtype) over a flat buffer. Call it after backward, before unscaling, clipping, stepping."""
        if self.world == 1:
            return
        groups: dict[tuple[Any, Any], list[Tensor]] = {}
        for p in model.parameters():
            if p.grad is not None:
                groups.setdefault((p.grad.device, p.grad.dtype), []).append(p.grad)
        for grads in groups.values():
            flat = torch.cat([g.reshape(-1) for g in grads])
            td.all_reduce(flat)
            flat /= self.world
            for g, mean in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
                g.copy_(mean.view_as(g))

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (picklable)."""
        if self.world == 1:
            return obj
        box = [obj]
        td.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            td.barrier()

    def close(self) -> None:
        """Leave the process group (at the end of a rank's process)."""
        if self.world > 1 and td.is_initialized():
            td.destroy_process_group()
