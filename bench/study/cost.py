"""A study's GPU-hours before it runs, from the cost records of runs already made (`collect`'s `gpu_hours`,
`steps`, `device` and task parameters): each planned cell costs the GPU-hours per step of the done CUDA
runs of its method and task whose task parameters other than `steps` are its own (the median over them),
times its steps. Cells without such a record are counted, not guessed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench.cell.states import DONE
from bench.report.frame import canonical

FREE = ("steps", "eval_every", "checkpoint_every")  # what may differ from a cost record's run


@dataclass(frozen=True)
class Estimate:
    gpu_hours: float  # of the cells with a record
    known: int  # cells with a record
    unknown: int  # cells without one


def per_step(records: pd.DataFrame, spec) -> float | None:
    """The median GPU-hours per step of the done CUDA runs like `spec` (None without any)."""
    if records.empty or not {"gpu_hours", "steps", "device"} <= set(records.columns):
        return None
    like = records[
        (records["state"] == DONE)
        & (records["device"] == "cuda")
        & (records["method"] == spec.method)
        & (records["task"] == spec.task)
        & (pd.to_numeric(records["steps"], errors="coerce") > 0)
    ]
    for key, value in spec.task_params.items():
        if key in FREE or like.empty:
            continue
        col = f"p_task_{key}"
        if col not in like.columns:
            return None
        like = like[like[col].map(canonical) == canonical(value)]
    if like.empty:
        return None
    return float((like["gpu_hours"].astype(float) / like["steps"].astype(float)).median())


def estimate(specs: Sequence, records: pd.DataFrame) -> Estimate:
    """The GPU-hours of `specs` (RunSpecs) by `per_step` of `records` (a collected results table)."""
    hours, known = 0.0, 0
    for spec in specs:
        rate = per_step(records, spec)
        if rate is not None:
            hours += rate * float(spec.task_params["steps"])
            known += 1
    return Estimate(hours, known, len(specs) - known)
