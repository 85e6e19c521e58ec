"""The input pipeline: the StepInputs of each training step, made ahead of the step, in worker processes
when the pools need decoding.

A step's indices are drawn in the main process, in step order, from the BatchSampler; its rows are
`take`n and its views drawn by `make_inputs`, in-process (num_workers = 0) or in a DataLoader's workers
(num_workers > 0), which compute the same numbers: the views of step s come from their own generator,
`view_generator(seed, s)`, so they depend on nothing but (seed, s). The DataLoader draws indices ahead
of training (prefetch), so the sampler's state runs ahead too: `StepLoader.state_at(s)` is its state
right after drawing step s, what the checkpoint after step s saves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bench.engine.batches import BatchSampler
from bench.engine.inputs import StepInputs
from bench.seeds import view_generator
from tasks.base import Task, TaskData, take

SSL_VIEWS = ("two", "original")


def needed(wanted: frozenset[str], ssl_views: str) -> dict[str, bool]:
    """What a step must produce for a method that reads the BatchEmbeddings keys `wanted`: for each side
    s in (a, b), rows `s_p` and `s_u` when wanted, or when `views_s` is wanted in the `original` layout
    (the original rows [s_p; s_u] are then view 1); `views_s` when wanted; and `v1`, whether the first
    augmented view is kept (True in the `two` layout, False in `original`)."""
    if ssl_views not in SSL_VIEWS:
        raise ValueError(f"ssl_views must be one of {', '.join(SSL_VIEWS)}, not {ssl_views!r}")
    original = ssl_views == "original"
    need = {"v1": not original}
    for side in "ab":
        views = f"views_{side}" in wanted
        need[f"{side}_p"] = f"{side}_p" in wanted or (views and original)
        need[f"{side}_u"] = f"{side}_u" in wanted or (views and original)
        need[f"views_{side}"] = views
    return need


def make_inputs(
    task: Task,
    data: TaskData,
    idx: tuple[Tensor, Tensor, Tensor],
    step: int,
    seed: int,
    need: dict[str, bool],
) -> StepInputs:
    """The StepInputs of step `step`, indices `idx` = (paired, unpaired A, unpaired B): each part of
    `need` (`needed`) that is True, the rest None. Rows: `take(train_a, paired)`, `take(train_a,
    unpaired A)`, and likewise of train_b. Views: `task.views(s, take(pool_s, cat[paired; unpaired s]),
    gen)` with gen = view_generator(seed, step), side a's drawn first, then side b's; without `v1` the
    first of the two views is dropped (both are still drawn, so v2 is the same in either layout).
    With `b_ids` of shape (N, m) (m alternatives per B item, train_b (N, m, ...)), one alternative of
    each paired and then each unpaired B row is drawn (`pick_alternatives`) from a generator of its own,
    view_generator(seed, step, "alternatives"), so that the draws do not depend on the views drawn."""
    idx_p, idx_a, idx_b = idx
    gen = view_generator(seed, step)
    views_a = _views(task, "a", data.train_a, idx_p, idx_a, gen, need)
    views_b = _views(task, "b", data.train_b, idx_p, idx_b, gen, need)
    b_p = take(data.train_b, idx_p) if need["b_p"] else None
    b_u = take(data.train_b, idx_b) if need["b_u"] else None
    b_ids_p = None if data.b_ids is None else data.b_ids[idx_p]
    if data.b_ids is not None and data.b_ids.dim() == 2:
        picks = view_generator(seed, step, "alternatives")
        b_p, b_ids_p = pick_alternatives(b_p, b_ids_p, picks)
        b_u, _ = pick_alternatives(b_u, data.b_ids[idx_b], picks)
    return StepInputs(
        step,
        idx,
        a_p=take(data.train_a, idx_p) if need["a_p"] else None,
        b_p=b_p,
        a_u=take(data.train_a, idx_a) if need["a_u"] else None,
        b_u=b_u,
        views_a=views_a,
        views_b=views_b,
        b_ids_p=b_ids_p,
    )


def pick_alternatives(rows: Tensor | None, ids: Tensor, gen: torch.Generator) -> tuple[Tensor | None, Tensor]:
    """One alternative of each row: `rows` (n, m, ...) → (n, ...) and `ids` (n, m) → (n,), alternative j
    of row i drawn uniformly from `gen` (drawn also when `rows` is None, so that the draws do not depend
    on what the method reads)."""
    n, m = ids.shape
    pick = torch.randint(m, (n,), generator=gen)
    rows_n = torch.arange(n)
    return (None if rows is None else rows[rows_n, pick]), ids[rows_n, pick]


def _views(
    task: Task,
    side: str,
    pool: Any,
    idx_p: Tensor,
    idx_u: Tensor,
    gen: torch.Generator,
    need: dict[str, bool],
) -> tuple[Any, Any] | None:
    """(v1, v2) of rows [idx_p; idx_u] of `pool`, v1 None without `need["v1"]`; None when not needed."""
    if not need[f"views_{side}"]:
        return None
    v1, v2 = task.views(side, take(pool, torch.cat([idx_p, idx_u])), gen)
    return (v1 if need["v1"] else None, v2)


class _Steps(Dataset):
    """Map-style dataset keyed by (step, idx): the item is `make_inputs` of that step."""

    def __init__(self, task: Task, data: TaskData, seed: int, need: dict[str, bool]):
        self.task, self.data, self.seed, self.need = task, data, seed, need

    def __getitem__(self, key: tuple[int, tuple[Tensor, Tensor, Tensor]]) -> StepInputs:
        step, idx = key
        return make_inputs(self.task, self.data, idx, step, self.seed, self.need)


def _as_fields(batch: list[StepInputs]) -> dict[str, Any]:
    """The one StepInputs of a batch as a dict of its fields (shallow), so that pin_memory reaches its
    tensors (it passes a dataclass through untouched)."""
    (inputs,) = batch
    return {f.name: getattr(inputs, f.name) for f in fields(inputs)}


def _from_fields(values: dict[str, Any]) -> StepInputs:
    """StepInputs from `_as_fields`'s dict; idx and views made tuples again (pin_memory may give lists)."""
    pair = {k: None if values[k] is None else tuple(values[k]) for k in ("views_a", "views_b")}
    return StepInputs(**{**values, "idx": tuple(values["idx"]), **pair})


def _one_thread(worker_id: int) -> None:
    """Worker set-up: one intra-op thread per worker (the workers run side by side)."""
    torch.set_num_threads(1)


def _context() -> str | None:
    """The workers' start method: fork on Linux (the pools are inherited, not pickled), else the default."""
    return "fork" if sys.platform == "linux" else None


class StepLoader:
    """Iterating yields the StepInputs of steps start_step + 1 … steps, made by `make_inputs` in-process
    (num_workers = 0) or in `num_workers` worker processes, up to `prefetch` steps per worker ahead;
    `pin_memory` (with CUDA only) pins their tensors. Indices come from `sampler`, in step order, in
    this process. `state_at(s)`: the sampler's state right after drawing step s. Iterate it once; it
    ends its workers when the iteration ends or fails, on `close()` and on leaving a `with` block."""

    def __init__(
        self,
        task: Task,
        data: TaskData,
        sampler: BatchSampler,
        seed: int,
        need: dict[str, bool],
        start_step: int,
        steps: int,
        num_workers: int,
        pin_memory: bool,
        prefetch: int = 2,
    ):
        self.sampler, self.start_step, self.steps = sampler, start_step, steps
        self._states = {start_step: sampler.state_dict()}
        workers = num_workers > 0
        self._loader = DataLoader(
            _Steps(task, data, seed, need),
            batch_sampler=self._draws(),
            num_workers=num_workers,
            collate_fn=_as_fields,
            pin_memory=pin_memory and torch.cuda.is_available(),
            prefetch_factor=prefetch if workers else None,
            worker_init_fn=_one_thread if workers else None,
            multiprocessing_context=_context() if workers else None,
            generator=torch.Generator().manual_seed(0),  # its base seed never draws from torch's global RNG,
        )  # which the checkpoint restores for dropout: a resumed run must see the same masks
        self._iterator: Any = None

    def _draws(self) -> Iterator[list[tuple[int, tuple[Tensor, Tensor, Tensor]]]]:
        """The batch sampler: [(step, idx)] for each step in order, the sampler's state recorded after
        each draw. The indices are copied out of the epoch order they view, so that sending them to a
        worker shares only them."""
        for step in range(self.start_step + 1, self.steps + 1):
            idx = tuple(i.clone() for i in self.sampler.next())
            self._states[step] = self.sampler.state_dict()
            yield [(step, idx)]

    def __iter__(self) -> Iterator[StepInputs]:
        self._iterator = iter(self._loader)
        try:
            for values in self._iterator:
                inputs = _from_fields(values)
                for old in [s for s in self._states if s < inputs.step]:
                    del self._states[old]
                yield inputs
                if self._iterator is None:  # closed while the step was being used
                    return
        finally:
            self.close()

    def state_at(self, step: int) -> dict[str, Any]:
        """`sampler.state_dict()` as it was right after drawing step `step` (at start_step: as given), for
        the latest step yielded and any drawn ahead of it; a sampler loaded with it draws step + 1 next."""
        if step not in self._states:
            raise KeyError(f"no sampler state kept for step {step}; kept: {sorted(self._states)}")
        return self._states[step]

    def close(self) -> None:
        """End the worker processes (and the pinning thread); the loader yields nothing more."""
        iterator, self._iterator = self._iterator, None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()

    def __enter__(self) -> StepLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decodes(pool: Any) -> bool:
    """Whether taking rows of a pool is work worth a worker process: not for a Tensor, nor for a pool that
    says `decodes = False` (its `take` only indexes and scales memory: a worker would only add the
    copying of its rows between processes); a pool that says nothing is taken to decode."""
    return not isinstance(pool, Tensor) and bool(getattr(pool, "decodes", True))


def default_workers(data: TaskData) -> int:
    """Worker processes by default: 0 when neither train pool decodes (`decodes`), else
    min(4, max(1, cpu_count - 1))."""
    if not (decodes(data.train_a) or decodes(data.train_b)):
        return 0
    return min(4, max(1, (os.cpu_count() or 1) - 1))
