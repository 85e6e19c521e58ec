"""Speed and memory of a training step, the harness's against a plain CLIP step (`bench perf train`).

One task is loaded once; each method asked gets its own run from the engine's `setup` (model, optimiser,
schedule, precision, batch shape), and the plain reference (train_reference.py) a deep copy of the first
run's model and optimiser before any step. The contenders then take one step each per round, in an order
rotated every round, so that machine noise hits them alike: `warmup` rounds untimed, then `steps` timed.

A harness step is the engine's loop body: the next step of `train.step_loader` is the data wait,
`embed_step` (every embedding the method reads, computed at once) the forward, `method.loss` the loss,
`train.optimise` the backward (zero grad, backward, gradients averaged over ranks, unscaled, clipped) and,
from the optimiser's step pre-hook on, the optimiser (step, schedule, clamp). Each phase is timed with the
device synchronised at its boundaries (torch.cuda.synchronize on CUDA); a step's time is the sum of its
phases, a contender's the mean over its timed steps.

Peak memory of a step: what it allocates beyond what was live at its start. CUDA: the allocator's
max_memory_allocated over each timed step, the most of them. CPU: the peak of live torch allocations of
one more step under torch.profiler (profile_memory, as `perf losses`), after the timed ones; the loader
workers' memory is not in it.

With loader workers a contender's workers keep preparing its next steps while the others step, so its
data wait here is a lower bound of the one of a run alone.
"""

from __future__ import annotations

import operator
import time
from contextlib import ExitStack
from typing import Any

import torch

from bench import registry
from bench.cell.spec import RunSpec
from bench.device import default_device
from bench.engine.loader import StepLoader, default_workers
from bench.engine.precision import resolve_device
from bench.engine.train import Run, embed, fit, optimise, setup, step_loader
from bench.errors import BenchError
from bench.perf.losses import _profiled
from bench.perf.train_reference import ReferenceStep

PHASES = ("data", "forward", "loss", "backward", "optimizer")
REFERENCE = ReferenceStep.name
# offline: generated images of one caption set and one zero-shot set (nothing is evaluated), random
# weights, the test configuration of open_clip
PERF_PARAMS = {
    "rs": {
        "source": "synthetic:600",
        "datasets": "ucm",
        "zero_shot": "ucm_cls",
        "pretrained": "none",
        "encoder": "rs-tiny",
        "mode": "finetune",
    },
}
OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt}
MEMORY = {"cuda": "CUDA max_memory_allocated", "cpu": "torch CPU allocations (profiler)"}
SHOWN = ("encoder", "mode", "batch_size", "amp", "optimizer", "ssl_views")


class Clock:
    """The phases of one step in ms: `mark(name)` ends the running phase and starts `name`, `stop()` ends
    the last; the device is synchronised at each mark, so that queued work lands in its own phase."""

    def __init__(self, device: torch.device):
        self.device = device
        self.ms: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self._phase: str | None = None
        self._tic = 0.0

    def mark(self, phase: str | None) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if self._phase is not None:
            self.ms[self._phase] += 1000 * (now - self._tic)
        self._phase, self._tic = phase, now

    def stop(self) -> None:
        self.mark(None)


class _Discard:
    """Where `setup` writes (its log lines, split.json): nowhere, the benchmark keeps no run folder."""

    def log(self, line: str) -> None:
        """Drop the line."""

    def write_json(self, name: str, obj: Any) -> None:
        """Drop the file."""


def loader_workers(hp: dict[str, Any], data: Any) -> int:
    """The loader's worker processes: task parameter num_workers, -1 meaning `default_workers`."""
    return default_workers(data) if hp["num_workers"] == -1 else hp["num_workers"]


def trained_rows(paired: int, unpaired: int, wanted: frozenset[str]) -> int:
    """The rows of each modality a step trains on (its samples; views not counted): the paired ones when
    the method reads a_p or b_p, the unpaired ones when it reads a_u or b_u."""
    return paired * bool(wanted & {"a_p", "b_p"}) + unpaired * bool(wanted & {"a_u", "b_u"})


class HarnessStep:
    """One method's training step as the engine runs it, timed by phase (see the module docstring)."""

    def __init__(self, run: Run, loader: StepLoader):
        self.run, self.name = run, run.spec.method
        self.rows = trained_rows(run.shape.paired, run.shape.unpaired, run.wanted)
        self._inputs = iter(loader)
        self._clock: Clock | None = None
        run.model.train()  # as the loop starts
        run.optimizer.register_step_pre_hook(lambda *_: self._clock.mark("optimizer"))

    def __call__(self, clock: Clock) -> None:
        run, self._clock = self.run, clock
        clock.mark("data")
        inputs = next(self._inputs)
        clock.mark("forward")
        batch = embed(run, inputs)
        clock.mark("loss")
        loss, terms = run.method.loss(batch)
        if loss is None:
            raise BenchError(f"{self.name} computed no loss term on a batch of {run.shape}")
        clock.mark("backward")
        optimise(run, loss, terms)
        clock.stop()
        run.step = inputs.step


def measure(
    task: str = "rs",
    methods: tuple[str, ...] = ("clip", "gentle_clip"),
    params: dict[str, str] | None = None,
    steps: int = 20,
    warmup: int = 3,
    pair_ratio: float = 0.1,
    threads: int | None = None,
) -> dict[str, Any]:
    """{setting, records, ratios, targets} of `methods` and the reference on `task` with raw task
    parameters `params` over PERF_PARAMS (the engine's: batch_size, amp, device, num_workers, ...)."""
    if steps < 1 or warmup < 0:
        raise BenchError(f"--steps {steps}, --warmup {warmup}: give at least 1 timed step and 0 warm-up")
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads or saved_threads)
    try:
        with ExitStack() as stack:
            contenders, setting = _contenders(
                task, methods, params or {}, steps + warmup + 1, pair_ratio, stack
            )
            device = torch.device(setting["device"])
            _rounds(contenders, warmup, device)
            timed = _rounds(contenders, steps, device)
            records = [_record(c, timed[c.name], _peak_mb(c, timed[c.name], device)) for c in contenders]
        setting |= {"steps": steps, "warmup": warmup, "threads": torch.get_num_threads()}
        return {"setting": setting, "records": records, **ratios_and_targets(records)}
    finally:
        torch.set_num_threads(saved_threads)


def _contenders(
    task_name: str,
    methods: tuple[str, ...],
    params: dict[str, str],
    total: int,
    ratio: float,
    stack: ExitStack,
) -> tuple[list, dict[str, Any]]:
    """The harness steps of `methods` (their loaders closed by `stack`) and the reference, and the setting."""
    entry = registry.tasks().get(task_name)
    hp = entry.resolve(
        {**PERF_PARAMS.get(task_name, {}), **params, "steps": str(total), "checkpoint_every": "0"}
    )
    task = entry.create(hp)
    data = task.load()
    device = resolve_device(hp["device"], default_device())
    harness = []
    for name in methods:
        method_entry = registry.methods().get(name)
        values = method_entry.resolve({})
        spec = RunSpec(name, task_name, ratio, method_params=values, task_params=hp)
        if method_entry.cls.closed_form:
            raise BenchError(f"{name} is fitted in closed form: it has no training step to time")
        run = setup(spec, task, method_entry.create(values), data, _Discard(), device)
        fit(run, _Discard())  # a method that fits (sotalign's teacher) does it before its first step
        if run.shape.paired == 0 or run.steps == 0:
            raise BenchError(f"{spec.label()}: a batch of {run.shape} holds no pairs; raise --pair-ratio")
        harness.append(HarnessStep(run, stack.enter_context(step_loader(run))))
    first = harness[0].run
    reference = ReferenceStep(
        first.model, first.optimizer, data, first.split.paired, first.shape.paired, hp["amp"], device
    )
    setting = {
        "task": task_name,
        **{k: hp[k] for k in SHOWN if k in hp},
        "paired_rows": first.shape.paired,
        "unpaired_rows": first.shape.unpaired,
        "pair_ratio": ratio,
        "device": str(device),
        "num_workers": loader_workers(hp, data),
        "memory": MEMORY["cuda" if device.type == "cuda" else "cpu"],
    }
    return [*harness, reference], setting


def _rounds(contenders: list, rounds: int, device: torch.device) -> dict[str, list[tuple[dict, float]]]:
    """(phase ms, CUDA peak MiB or 0) of each contender's steps over `rounds` rounds of one step each,
    the order rotated by one every round."""
    out: dict[str, list[tuple[dict, float]]] = {c.name: [] for c in contenders}
    for i in range(rounds):
        shift = i % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            out[contender.name].append(_timed_step(contender, device))
    return out


def _timed_step(contender: Any, device: torch.device) -> tuple[dict[str, float], float]:
    """(phase ms, MiB the allocator's peak rose above its start on CUDA, else 0) of one step."""
    clock = Clock(device)
    if device.type != "cuda":
        contender(clock)
        return clock.ms, 0.0
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    contender(clock)
    return clock.ms, (torch.cuda.max_memory_allocated(device) - start) / 2**20


def _peak_mb(contender: Any, timed: list[tuple[dict, float]], device: torch.device) -> float:
    """Peak MiB of a step beyond what was live at its start: the most of the timed steps on CUDA, one more
    step under torch.profiler on the CPU."""
    if device.type == "cuda":
        return max(peak for _, peak in timed)
    return _profiled(lambda: contender(Clock(device)))[0]


def _record(contender: Any, timed: list[tuple[dict, float]], peak_mb: float) -> dict[str, Any]:
    """A contender's mean phase times, its step time (their sum), throughput, data share and peak."""
    phases = {p: sum(ms[p] for ms, _ in timed) / len(timed) for p in PHASES}
    step_ms = sum(phases.values())
    return {
        "contender": contender.name,
        "kind": "reference" if contender.name == REFERENCE else "harness",
        "rows": contender.rows,
        "steps": len(timed),
        "step_ms": step_ms,
        **{f"{p}_ms": v for p, v in phases.items()},
        "steps_per_s": 1000 / step_ms,
        "samples_per_s": contender.rows * 1000 / step_ms,
        "data_share": phases["data"] / step_ms,
        "peak_mb": peak_mb,
    }


def ratios_and_targets(records: list[dict]) -> dict[str, Any]:
    """{ratios, targets}: harness CLIP steps/s over the reference's (the same rows: the step's pairs),
    the Gentle-CLIP step time over CLIP's and each harness method's data wait share, each with its
    target and whether it is met; a ratio whose contenders were not measured is left out."""
    by = {r["contender"]: r for r in records}
    clip, ref, gentle = by.get("clip"), by.get(REFERENCE), by.get("gentle_clip")
    ratios, targets = {}, []
    if clip and ref:
        ratios["clip_vs_reference_throughput"] = clip["steps_per_s"] / ref["steps_per_s"]
        targets.append(("clip_vs_reference_throughput", "harness CLIP / reference throughput", ">=", 0.9))
    if clip and gentle:
        ratios["gentle_clip_vs_clip_step_time"] = gentle["step_ms"] / clip["step_ms"]
        targets.append(("gentle_clip_vs_clip_step_time", "Gentle-CLIP / CLIP step time", "<=", 1.3))
    for r in (r for r in records if r["kind"] == "harness"):
        ratios[f"data_share_{r['contender']}"] = r["data_share"]
        targets.append((f"data_share_{r['contender']}", f"data wait share, {r['contender']}", "<", 0.05))
    return {
        "ratios": ratios,
        "targets": [
            {
                "ratio": key,
                "label": label,
                "value": ratios[key],
                "op": op,
                "bound": bound,
                "pass": OPS[op](ratios[key], bound),
            }
            for key, label, op, bound in targets
        ],
    }


def format_table(report: dict[str, Any]) -> str:
    """The setting, a row per contender, what the peak counts, and each target with its mark."""
    s = report["setting"]
    shown = ", ".join(f"{k} {s[k]}" for k in SHOWN if k in s)
    lines = [
        f"{s['task']}: {shown} ({s['paired_rows']} paired + {s['unpaired_rows']} unpaired rows, r = "
        f"{s['pair_ratio']:g}); {s['device']}, {s['threads']} thread(s), {s['num_workers']} loader "
        f"worker(s); {s['steps']} timed steps after {s['warmup']} warm-up, contenders interleaved"
    ]
    header = ("contender", "rows", "step ms", "steps/s", "samples/s", *(f"{p} ms" for p in PHASES))
    rows = [header + ("data %", "peak MB")]
    for r in report["records"]:
        times = (f"{r['step_ms']:.1f}", f"{r['steps_per_s']:.2f}", f"{r['samples_per_s']:.1f}")
        phases = tuple(f"{r[f'{p}_ms']:.1f}" for p in PHASES)
        rows.append(
            (
                r["contender"],
                str(r["rows"]),
                *times,
                *phases,
                f"{100 * r['data_share']:.1f}",
                f"{r['peak_mb']:.1f}",
            )
        )
    lines += _aligned(rows)
    lines.append(f"peak MB: {s['memory']} of a step beyond what was live at its start")
    marks = [
        (
            t["label"],
            _shown(t["ratio"], report["ratios"][t["ratio"]]),
            f"{t['op']} {_shown(t['ratio'], t['bound'])}",
            "✓ pass" if t["pass"] else "✗ FAIL",
        )
        for t in report["targets"]
    ]
    return "\n".join(lines + _aligned([("target", "value", "bound", ""), *marks]))


def _shown(ratio: str, value: float) -> str:
    return f"{100 * value:.1f} %" if ratio.startswith("data_share") else f"{value:.2f}"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, the first left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
