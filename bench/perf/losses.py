"""Speed and peak memory of the losses, the project's against the plain reference (`bench perf`).

Each case runs forward + backward on fixed leaf tensors of unit rows. The first run is profiled:
its peak memory is the largest sum of live torch allocations during the run, from the allocation
events of torch.profiler (profile_memory), counted from the start of the run (the inputs already
exist). Time: the best of the unprofiled runs that follow, or that first run when it alone takes
longer than the budget (the profiler's overhead, a few µs per op, is then under 1 %).

The reference at batch 1024 holds about 10 GB of B × B × d intermediates (gentle_clip) and takes
minutes on 2 busy cores. On a shared machine torch's threads stall whenever another process takes
a core: `threads=1` then gives steadier numbers.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from bench.perf import reference
from methods import losses
from methods.base import BatchEmbeddings
from methods.gentle_clip import GentleClip

LOSSES = ("clip", "nt_xent", "mk_mmd", "sdd", "gentle_clip")
IMPLS = ("project", "reference")
LOGIT_SCALE = 1 / 0.07


def measure(
    batches: tuple[int, ...] = (64, 256, 1024),
    dim: int = 256,
    repeats: int | None = None,
    budget_s: float = 3.0,
    names: tuple[str, ...] = LOSSES,
    threads: int | None = None,
) -> list[dict]:
    """One record {loss, batch, dim, impl, ms, peak_mb, repeats} per loss in `names`, batch and impl.

    `repeats`: timed runs after the profiled one; None: as many as fit in `budget_s` per case (at
    most 20; none when the profiled run alone takes longer, which then gives the time).
    `threads`: torch's intra-op threads during the measurement (None: as they are).
    """
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads or saved_threads)
    try:
        records = []
        for batch in batches:
            for loss in names:
                for impl in IMPLS:
                    run = _case(loss, impl, batch, dim)
                    peak, first = _profiled(run)
                    ms, n = _time(run, first, repeats, budget_s)
                    record = {"loss": loss, "batch": batch, "dim": dim, "impl": impl}
                    records.append(record | {"ms": ms, "peak_mb": peak, "repeats": n})
        return records
    finally:
        torch.set_num_threads(saved_threads)


def format_table(records: list[dict]) -> str:
    """Project against reference per loss and batch: time, speed-up (reference ms / project ms),
    peak memory and memory ratio (project MB / reference MB)."""
    rows = {}
    for r in records:
        rows.setdefault((r["loss"], r["batch"], r["dim"]), {})[r["impl"]] = r
    header = ("loss", "batch", "dim", "project ms", "ref ms", "speed-up", "project MB", "ref MB", "mem ratio")
    lines = [header]
    for (loss, batch, dim), by_impl in rows.items():
        p, ref = by_impl.get("project"), by_impl.get("reference")
        lines.append(
            (loss, str(batch), str(dim))
            + (_num(p, "ms"), _num(ref, "ms"), _ratio(ref, p, "ms", "×"))
            + (_num(p, "peak_mb"), _num(ref, "peak_mb"), _ratio(p, ref, "peak_mb", ""))
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def _num(record: dict | None, key: str) -> str:
    return "-" if record is None else f"{record[key]:.1f}"


def _ratio(num: dict | None, den: dict | None, key: str, unit: str) -> str:
    if num is None or den is None or not den[key]:
        return "-"
    return f"{num[key] / den[key]:.2f}{unit}"


def _unit_rows(n: int, dim: int, shift: float = 0.0) -> torch.Tensor:
    z = torch.randn(n, dim)
    z[:, 0] += shift
    return F.normalize(z, dim=1).requires_grad_()


def _case(loss: str, impl: str, batch: int, dim: int) -> Callable[[], None]:
    """A callable that runs forward + backward of one loss on fixed leaf inputs."""
    lib = losses if impl == "project" else reference
    torch.manual_seed(batch)
    x, y = _unit_rows(batch, dim), _unit_rows(batch, dim, shift=0.5)
    if loss == "clip":
        inputs, forward = (x, y), lambda: lib.clip_loss(x, y, LOGIT_SCALE)
    elif loss == "nt_xent":
        inputs, forward = (x, y), lambda: lib.nt_xent(x, y)
    elif loss == "mk_mmd":
        inputs, forward = (x, y), lambda: lib.mk_mmd(x, y)
    elif loss == "sdd":
        inputs, forward = (x, y), lambda: lib.sdd(x, y)
    elif loss == "gentle_clip":
        inputs, forward = _gentle_case(impl, batch, dim)
    else:
        raise ValueError(f"unknown loss {loss!r}: one of {', '.join(LOSSES)}")

    def run() -> None:
        for t in inputs:
            t.grad = None
        forward().backward()

    return run


def _gentle_case(impl: str, batch: int, dim: int):
    """The whole Gentle-CLIP objective with default weights, about 1/3 of the rows paired."""
    b_p = batch // 3
    t = {
        "a_p": _unit_rows(b_p, dim),
        "b_p": _unit_rows(b_p, dim, shift=0.5),
        "a_u": _unit_rows(batch - b_p, dim),
        "b_u": _unit_rows(batch - b_p, dim, shift=0.5),
        "views_a": (_unit_rows(batch, dim), _unit_rows(batch, dim)),
        "views_b": (_unit_rows(batch, dim), _unit_rows(batch, dim)),
    }
    inputs = [t["a_p"], t["b_p"], t["a_u"], t["b_u"], *t["views_a"], *t["views_b"]]
    method = GentleClip(**{k: p.default for k, p in GentleClip.declared_params().items()})
    if impl == "project":
        return inputs, lambda: method.loss(BatchEmbeddings.from_tensors(LOGIT_SCALE, **t))[0]
    w, ref = method.weights(), reference

    def forward() -> torch.Tensor:
        za, zb = torch.cat([t["a_p"], t["a_u"]]), torch.cat([t["b_p"], t["b_u"]])
        return (
            w["clip"] * ref.clip_loss(t["a_p"], t["b_p"], LOGIT_SCALE)
            + w["sdd"] * ref.sdd(za, zb)
            + w["mmd"] * ref.mk_mmd(za, zb)
            + w["ssl"] * (ref.nt_xent(*t["views_a"]) + ref.nt_xent(*t["views_b"]))
        )

    return inputs, forward


def _time(run: Callable[[], None], first: float, repeats: int | None, budget_s: float) -> tuple[float, int]:
    """(best ms, number of timed runs) after a first run that took `first` seconds."""
    if repeats is None:
        repeats = min(20, int(budget_s / first))
    timed = [_timed(run) for _ in range(repeats)] or [first]
    return 1000 * min(timed), len(timed)


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _profiled(run: Callable[[], None]) -> tuple[float, float]:
    """(peak of live torch CPU allocations in MiB, seconds) of one run under torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        seconds = _timed(run)
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        live += e.nbytes()
        peak = max(peak, live)
    return peak / 2**20, seconds


@contextmanager
def _quiet_stderr():
    """Kineto writes start/stop lines straight to file descriptor 2: point it at /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
