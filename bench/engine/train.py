"""The one training loop (method.md, "A training step").

Each step draws b_p paired and b_u unpaired rows of each modality independently, asks the method
for its terms over their embeddings, and takes an Adam step on L = Σ w_k · term_k. It evaluates
at the end (and every `eval_every` steps), checkpoints every `checkpoint_every` steps, and a run
resumed from its checkpoint ends with the same numbers as one that never stopped (CPU).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from bench import registry
from bench.engine import checkpoint
from bench.engine.batches import BatchSampler, batch_shape
from bench.engine.embed import batch_embeddings
from bench.engine.model import TwoTower
from bench.engine.split import make_split
from bench.spec import RunSpec

LOG_EVERY = 50


class RunOutput(Protocol):
    """Where a run writes: its log, its JSON files, its checkpoint path."""

    def log(self, line: str) -> None: ...
    def write_json(self, name: str, obj: Any) -> None: ...
    def file(self, name: str) -> Any: ...


@dataclass
class TrainResult:
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    cost: dict[str, float] = field(default_factory=dict)


def train(
    spec: RunSpec,
    out: RunOutput,
    device: torch.device,
    on_step: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train and evaluate one run; raise on any error (the caller records it)."""
    tic = time.perf_counter()
    task = registry.tasks().get(spec.task).create(spec.task_params)
    method = registry.methods().get(spec.method).create(spec.method_params)
    hp = spec.task_params
    data = task.load()
    data_s = time.perf_counter() - tic

    split = make_split(len(data), spec.pair_ratio, spec.split_seed, hp["unpaired"], hp["val_fraction"])
    out.write_json("split.json", split.to_json())
    shape = batch_shape(split, hp["batch_size"], hp["paired_fraction"])

    torch.manual_seed(spec.seed)
    enc_a, enc_b = task.encoders(data)
    model = TwoTower(
        enc_a,
        enc_b,
        hp["embed_dim"],
        hp["head_dropout"],
        method.p["temperature"],
        method.p["learn_temperature"],
    ).to(device)
    optimizer = torch.optim.Adam(model.param_groups(hp["lr"], hp["encoder_lr"], hp["weight_decay"]))
    sampler = BatchSampler(split, shape, spec.seed)
    view_gen = torch.Generator().manual_seed(10_000 + spec.seed)

    steps = hp["steps"]
    if method.needs_pairs and shape.paired == 0:
        out.log(
            f"{spec.method} needs pairs and r = {spec.pair_ratio:g} gives none: reporting the untrained model"
        )
        steps = 0
    out.log(
        f"split: {len(split.paired)} paired, {len(split.unpaired_a)}/{len(split.unpaired_b)} unpaired A/B"
    )
    out.log(f"batch: {shape.paired} paired + {shape.unpaired} unpaired rows per modality; {steps} steps")

    step, history, train_s, eval_s = 0, [], 0.0, 0.0
    saved = checkpoint.load(out.file("checkpoint.pt"))
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        sampler.load_state_dict(saved["sampler"])
        view_gen.set_state(saved["view_gen"])
        step, history, train_s, eval_s = saved["step"], saved["history"], saved["train_s"], saved["eval_s"]
        out.log(f"resumed from the checkpoint at step {step}")

    def evaluate() -> dict[str, float]:
        nonlocal eval_s
        t = time.perf_counter()
        model.eval()
        with torch.no_grad():
            metrics = task.evaluate(model, data, split.paired)
            if len(split.val):
                val = task.evaluate_items(model, data, split.val)
                metrics.update({f"val_{k}": v for k, v in val.items()})
        model.train()
        eval_s += time.perf_counter() - t
        return metrics

    def save_checkpoint(elapsed: float) -> None:
        checkpoint.save(
            out.file("checkpoint.pt"),
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            sampler=sampler.state_dict(),
            view_gen=view_gen.get_state(),
            step=step,
            history=history,
            train_s=elapsed,
            eval_s=eval_s,
        )

    model.train()
    t_train = time.perf_counter()
    while step < steps:
        batch = batch_embeddings(model, task, data, sampler.next(), view_gen, device)
        loss, terms = method.loss(batch)
        if loss is not None:
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {float(loss)} at step {step + 1}; terms {terms}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.clamp_scale()
        step += 1
        if step % LOG_EVERY == 0 or step == steps:
            value = float(loss.detach()) if loss is not None else math.nan
            shown = " ".join(f"{k}={v:.4g}" for k, v in terms.items())
            out.log(f"step {step}/{steps} loss={value:.4g} {shown}")
        if hp["eval_every"] and step % hp["eval_every"] == 0 and step < steps:
            train_s += time.perf_counter() - t_train
            history.append({"step": step, **evaluate()})
            out.write_json("history.json", history)
            t_train = time.perf_counter()
        if hp["checkpoint_every"] and step % hp["checkpoint_every"] == 0 and step < steps:
            save_checkpoint(train_s + time.perf_counter() - t_train)
        if on_step:
            on_step(step, steps)
    train_s += time.perf_counter() - t_train
    save_checkpoint(train_s)

    metrics = evaluate()
    history.append({"step": step, **metrics})
    out.write_json("history.json", history)
    rows = steps * (shape.paired + shape.unpaired)
    cost = {
        "data_s": data_s,
        "train_s": train_s,
        "eval_s": eval_s,
        "steps": steps,
        "samples_per_s": rows / train_s if train_s > 0 else 0.0,
        "n_params": sum(p.numel() for p in model.parameters()),
        "n_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    return TrainResult(metrics, history, cost)
