"""The one training loop (docs/methods.md, "A training step").

`train` reads top to bottom: set up the run (split, model, optimiser, batch streams), fit the method
when it fits (fit.py: the frozen features of the pairs; a closed-form method is then evaluated and done),
resume it from its checkpoint if there is one, loop, finish. The loop body always runs in the same order:
batch, loss, step, log, evaluate, checkpoint. Each step draws b_p paired and b_u unpaired rows of
each modality independently, asks the method for its terms over their embeddings and takes an
optimiser step on L = Σ w_k · term_k (optim.py: Adam or AdamW, the schedule, clipping; precision.py:
autocast and the fp16 scaler). A run resumed from its checkpoint ends with the same numbers as
one that never stopped (CPU). The task and the method come in as objects: nothing here looks a
name up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

from bench.atomic import CorruptFile
from bench.cell.rules import empty_cell
from bench.engine import checkpoint
from bench.engine.batches import BatchSampler, BatchShape, batch_shape
from bench.engine.distributed import Dist
from bench.engine.embed import embed_step
from bench.engine.fit import FittedModel, feature_names, fit_data, frozen_encoders
from bench.engine.inputs import StepInputs
from bench.engine.loader import StepLoader, default_workers, needed
from bench.engine.model import TwoTower
from bench.engine.optim import build_optimizer, build_schedule, clip_gradients
from bench.engine.precision import Precision
from bench.engine.split import Split, make_split
from bench.errors import BenchError
from methods.base import COMMON_PARAMS as SCALE_PARAMS
from methods.base import FEATURES

if TYPE_CHECKING:
    from bench.cell.spec import RunSpec
    from methods.base import BatchEmbeddings, FitData, Method
    from tasks.base import Task, TaskData

LOG_EVERY = 50

OnEval = Callable[[int, dict[str, float]], str | None]
"""Called after each intermediate evaluation with (step, metrics); a returned text stops the run
there (pruning), and is its reason."""


class RunOutput(Protocol):
    """Where a run writes: its log, its JSON files, its checkpoint path."""

    def log(self, line: str) -> None: ...
    def write_json(self, name: str, obj: Any) -> None: ...
    def file(self, name: str) -> Any: ...


@dataclass
class TrainResult:
    """Final metrics (empty when stopped early), the cost, why it stopped early, and what a method that
    fits was given (`fit_features`: the name of each modality's features, or None)."""

    metrics: dict[str, float]
    cost: dict[str, float] = field(default_factory=dict)
    stopped: str | None = None
    fit_features: dict[str, str] | None = None


@dataclass
class Run:
    """Everything a run carries from one step to the next."""

    spec: RunSpec
    task: Task
    method: Method
    data: TaskData
    split: Split
    shape: BatchShape
    model: TwoTower
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    precision: Precision
    sampler: BatchSampler
    dist: Dist
    device: torch.device
    steps: int
    step: int = 0
    sampler_state: dict[str, Any] = field(default_factory=dict)  # as it was right after the last step's draw
    history: list[dict[str, Any]] = field(default_factory=list)
    train_s: float = 0.0
    eval_s: float = 0.0
    fit_s: float = 0.0
    features: FitData | None = None  # the frozen features it fitted on or its steps read (fit)
    fitted: FittedModel | None = None  # a closed-form method's model, once fitted
    frozen: tuple[Any, Any] | None = None  # the task's frozen features a method that fits is given (fit.py)
    fit_features: dict[str, str] | None = None  # the names of the features fitted on, per modality

    @property
    def hp(self) -> dict[str, Any]:
        return self.spec.task_params

    @property
    def wanted(self) -> frozenset[str]:
        return self.method.embeddings()


def train(
    spec: RunSpec,
    task: Task,
    method: Method,
    data: TaskData,
    out: RunOutput,
    device: torch.device,
    on_eval: OnEval | None = None,
) -> TrainResult:
    """Train and evaluate one run; raise on any error (the caller records it)."""
    run = setup(spec, task, method, data, out, device)
    fit(run, out)
    if run.fitted is not None:
        return finish_fitted(run, out)
    resume(run, out)
    stopped = loop(run, out, on_eval)
    return finish(run, out, stopped)


def setup(
    spec: RunSpec, task: Task, method: Method, data: TaskData, out: RunOutput, device: torch.device
) -> Run:
    """The split (saved as split.json), the model, the optimiser, the schedule and the seeded batch streams;
    on every rank of a data-parallel run the same (bench/engine/distributed.py), rank 0 alone writing."""
    hp = spec.task_params
    split = make_split(len(data), spec.pair_ratio, spec.split_seed, hp["unpaired"], hp["val_fraction"])
    if why := method.check_pool(len(split.paired), len(split.unpaired_a), len(split.unpaired_b)):
        raise BenchError(f"{spec.label()}: {why}")
    if not hp.get("allow_empty") and (why := empty_cell(split, len(data), spec.pair_ratio, method, hp)):
        raise BenchError(f"{spec.label()}: {why}")
    frozen = frozen_encoders(method, task, data)  # what it cannot serve: refused in the grid
    out.write_json("split.json", split.to_json())
    shape = batch_shape(split, hp["batch_size"], hp["paired_fraction"])

    torch.manual_seed(spec.seed)
    model = build_model(task, method, data, hp).to(device)
    optimizer = build_optimizer(model.param_groups(hp["lr"], hp["encoder_lr"], hp["weight_decay"]), hp)
    precision = Precision(hp["amp"], device)

    steps = 0 if method.closed_form else hp["steps"]
    if method.needs_pairs and shape.paired == 0:
        out.log(
            f"{spec.method} needs pairs and r = {spec.pair_ratio:g} gives none: reporting the untrained model"
        )
        steps = 0
    out.log(
        f"split: {len(split.paired)} paired, {len(split.unpaired_a)}/{len(split.unpaired_b)} unpaired A/B"
    )
    out.log(f"batch: {shape.paired} paired + {shape.unpaired} unpaired rows per modality; {steps} steps")
    sampler = BatchSampler(split, shape, spec.seed)
    schedule = build_schedule(optimizer, hp, steps)
    dist = Dist.from_env(device)
    run = Run(
        spec,
        task,
        method,
        data,
        split,
        shape,
        model,
        optimizer,
        schedule,
        precision,
        sampler,
        dist,
        device,
        steps,
        frozen=frozen,
    )
    run.sampler_state = sampler.state_dict()
    return run


def build_model(task: Task, method: Method, data: TaskData, hp: dict[str, Any]) -> TwoTower:
    """The task's towers with the heads and the CLIP scale the method and the task parameters ask for
    (drawn from torch's global generator: seed it first). A closed-form method declares no CLIP scale:
    its untrained model (r = 0) gets the default one."""
    enc_a, enc_b = task.encoders(data)
    scale = {**{k: p.default for k, p in SCALE_PARAMS.items()}, **method.p}
    return TwoTower(
        enc_a,
        enc_b,
        hp["embed_dim"],
        hp["head_dropout"],
        scale["temperature"],
        scale["learn_temperature"],
        method.logit_bias(),
    )


def fit(run: Run, out: RunOutput) -> None:
    """The fit stage (fit.py) of a method that fits, when the split has pairs or the method needs none, or
    whose steps (if any) read frozen features (methods.base.FEATURES): its FitData from the task's frozen
    features (or the towers as built, `features=towers`), then `method.fit` (a method that fits), and the
    pools' features its steps will read (feat_a_u, feat_b_u, feat_a_p, feat_b_p), all timed as fit_s; a
    closed-form method's fit becomes the model evaluated."""
    fits = run.method.fits and (run.shape.paired > 0 or not run.method.needs_pairs)
    if not fits and not (run.wanted & FEATURES and run.steps):
        return
    tic = time.perf_counter()
    towers = (run.model.encoder_a, run.model.encoder_b)
    encoders = tuple(e.to(run.device) for e in (run.frozen or towers))
    run.fit_features = feature_names(encoders, run.method)
    run.features = fit_data(encoders, run.data, run.split, run.device)
    fitted = run.method.fit(run.features) if fits else None
    for key in sorted(run.wanted & FEATURES):  # now: before a resume or a step
        getattr(run.features, key.removeprefix("feat_"))
    if run.method.closed_form:
        run.fitted = FittedModel(*encoders, fitted)
    run.fit_s = time.perf_counter() - tic
    dims = f"{run.features.a_p.shape[1]}/{run.features.b_p.shape[1]}"
    names = " / ".join(run.fit_features.values())
    out.log(f"fit: {len(run.split.paired)} pairs, frozen features of A/B {dims} ({names}), {run.fit_s:.2f} s")


def resume(run: Run, out: RunOutput) -> None:
    """Continue from checkpoint.pt when the run has one: model, optimiser, streams, RNGs, history, clocks.
    One that cannot be read is set aside (checkpoint.pt.corrupt) and the run starts from step 0."""
    try:
        saved = checkpoint.load(out.file("checkpoint.pt"))
    except CorruptFile as err:
        if run.dist.is_main:
            aside = checkpoint.set_aside(err.path)
            out.log(f"{err}; set aside as {aside.name}, starting from step 0")
        return
    if saved is None:
        return
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.schedule.load_state_dict(saved["schedule"])
    run.precision.load_state_dict(saved["scaler"])
    run.sampler.load_state_dict(saved["sampler"])
    run.sampler_state = saved["sampler"]
    run.step, run.history = saved["step"], saved["history"]
    run.train_s, run.eval_s = saved["train_s"], saved["eval_s"]
    out.log(f"resumed from the checkpoint at step {run.step}")


def loop(run: Run, out: RunOutput, on_eval: OnEval | None) -> str | None:
    """Steps until `run.steps`; return the reason when `on_eval` stopped the run early, else None."""
    run.model.train()
    tic = time.perf_counter()
    with step_loader(run) as inputs_of_steps:
        for inputs in inputs_of_steps:
            batch = embed(run, inputs)
            loss, terms = run.method.loss(batch)
            optimise(run, loss, terms)
            run.step, run.sampler_state = inputs.step, inputs_of_steps.state_at(inputs.step)
            log_step(run, out, loss, terms)
            if due(run.step, run.hp["eval_every"], run.steps):
                run.train_s += time.perf_counter() - tic
                metrics = evaluate(run)
                run.history.append({"step": run.step, **metrics})
                out.write_json("history.json", run.history)
                tic = time.perf_counter()
                reason = run.dist.broadcast(on_eval(run.step, metrics) if on_eval else None)
                if reason:
                    save(run, out)
                    return reason
            if due(run.step, run.hp["checkpoint_every"], run.steps):
                run.train_s += time.perf_counter() - tic
                save(run, out)
                tic = time.perf_counter()
    run.train_s += time.perf_counter() - tic
    return None


def embed(run: Run, inputs: StepInputs) -> BatchEmbeddings:
    """The step's embeddings as the method reads them (embed.py `embed_step`), on the run's device, in its
    precision, over its ranks."""
    return embed_step(
        run.model,
        run.data,
        inputs,
        run.wanted,
        run.device,
        run.precision,
        run.dist,
        run.hp["single_pass"],
        run.features,
        run.steps,
    )


def step_loader(run: Run) -> StepLoader:
    """The inputs of the steps after `run.step`: the rows and views the method reads (loader.py), made in
    `num_workers` worker processes (-1: loader.default_workers), pinned for a GPU."""
    workers = run.hp["num_workers"]
    workers = default_workers(run.data) if workers == -1 else workers
    need = needed(run.wanted, run.hp["ssl_views"])
    args = (run.task, run.data, run.sampler, run.spec.seed, need, run.step, run.steps, workers)
    return StepLoader(*args, pin_memory=run.device.type == "cuda")


def optimise(run: Run, loss: torch.Tensor | None, terms: dict[str, float]) -> None:
    """One optimiser step on the loss (none when the method computed no term this step): backward (the
    loss scaled under fp16), gradients unscaled and clipped, the step, the schedule's step, the CLIP
    scale clamped."""
    if loss is None:
        return
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {float(loss)} at step {run.step + 1}; terms {terms}")
    run.optimizer.zero_grad(set_to_none=True)
    run.precision.backward(loss)
    run.dist.average_gradients(run.model)
    run.precision.unscale(run.optimizer)
    clip_gradients(run.model, run.hp["grad_clip"])
    run.precision.step(run.optimizer)
    run.schedule.step()
    run.model.clamp_scale()


def log_step(run: Run, out: RunOutput, loss: torch.Tensor | None, terms: dict[str, float]) -> None:
    if run.step % LOG_EVERY == 0 or run.step == run.steps:
        value = float(loss.detach()) if loss is not None else math.nan
        shown = " ".join(f"{k}={v:.8g}" for k, v in terms.items())
        rate = run.optimizer.param_groups[0]["initial_lr"] * run.schedule.lr_lambdas[0](run.step - 1)
        out.log(f"step {run.step}/{run.steps} loss={value:.8g} lr={rate:.4g} {shown}")  # lr: this step's


def due(step: int, every: int, steps: int) -> bool:
    """An intermediate event (evaluation, checkpoint) every `every` steps; the end has its own."""
    return bool(every) and step % every == 0 and step < steps


def evaluate(run: Run) -> dict[str, float]:
    """The task's test metrics and, with a validation split, its `val_` metrics, of the trained model or the
    closed-form fit; timed as eval_s."""
    tic = time.perf_counter()
    model = run.model if run.fitted is None else run.fitted
    model.eval()
    with torch.no_grad():
        metrics = run.task.evaluate(model, run.data, run.split.paired)
        if len(run.split.val):
            val = run.task.evaluate_items(model, run.data, run.split.val)
            metrics.update({f"val_{k}": v for k, v in val.items()})
    model.train()
    run.eval_s += time.perf_counter() - tic
    return metrics


def save(run: Run, out: RunOutput) -> None:
    """The checkpoint (rank 0 only), the batch streams as they were right after the last step's draw."""
    if not run.dist.is_main:
        return
    checkpoint.save(
        out.file("checkpoint.pt"),
        model=run.model.state_dict(),
        optimizer=run.optimizer.state_dict(),
        schedule=run.schedule.state_dict(),
        scaler=run.precision.state_dict(),
        sampler=run.sampler_state,
        step=run.step,
        history=run.history,
        train_s=run.train_s,
        eval_s=run.eval_s,
    )


def finish(run: Run, out: RunOutput, stopped: str | None) -> TrainResult:
    """The final checkpoint, evaluation and cost; a run stopped early keeps its checkpoint and no metrics."""
    if stopped:
        return TrainResult({}, cost(run), stopped, run.fit_features)
    save(run, out)
    metrics = evaluate(run)
    run.history.append({"step": run.step, **metrics})
    out.write_json("history.json", run.history)
    return TrainResult(metrics, cost(run), fit_features=run.fit_features)


def finish_fitted(run: Run, out: RunOutput) -> TrainResult:
    """A closed-form run: evaluated once, nothing to checkpoint or resume (a rerun fits again)."""
    metrics = evaluate(run)
    run.history.append({"step": 0, **metrics})
    out.write_json("history.json", run.history)
    return TrainResult(metrics, cost(run), fit_features=run.fit_features)


def cost(run: Run) -> dict[str, float]:
    """Seconds of training (the loop), of evaluation and of the fit stage (fit_s: the frozen features and
    the closed-form fit); parameters: the trained model's, or the towers' under a closed-form fit (whose
    fitted maps are no parameters, so none is trainable)."""
    rows = run.step * (run.shape.paired + run.shape.unpaired)
    model = run.model if run.fitted is None else run.fitted
    return {
        "train_s": run.train_s,
        "eval_s": run.eval_s,
        "fit_s": run.fit_s,
        "steps": run.step,
        "samples_per_s": rows / run.train_s if run.train_s > 0 else 0.0,
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_trainable": 0
        if run.fitted is not None
        else sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
