"""The task contract: a train pool of (A, B) items, encoders, views, and an evaluation.

The harness chooses the paired set from the train pool (the split), builds the model
(encoders → projection heads → L2 normalisation) and trains; the task only supplies data
and judges the result. Every task has the training parameters of COMMON_PARAMS, with its own
defaults in `train_defaults`, so that every method on a task gets the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.errors import BenchError
from bench.params import Param, Variant

COMMON_PARAMS = {
    "steps": Param(600, "optimisation steps", low=100, high=5000, log=True, valid="[1, inf)"),
    "batch_size": Param(64, "rows per batch (paired + unpaired)", valid="[2, inf)"),
    "paired_fraction": Param(
        1 / 3, "share of a batch's rows that are paired (released code: 22 of 64)", valid="[0, 1]"
    ),
    "lr": Param(
        1e-3,
        "Adam learning rate of heads and trainable towers",
        low=1e-5,
        high=1e-2,
        log=True,
        valid="(0, inf)",
    ),
    "encoder_lr": Param(
        1e-5,
        "learning rate of fine-tuned pretrained encoders",
        low=1e-6,
        high=1e-4,
        log=True,
        valid="(0, inf)",
    ),
    "weight_decay": Param(
        1e-3, "weight decay (adam: L2 on every parameter; adamw: decoupled)", valid="[0, inf)"
    ),
    "optimizer": Param(
        "adam", "adam, or adamw (decoupled decay on matrices only)", choices=("adam", "adamw")
    ),
    "schedule": Param("constant", "learning-rate schedule after the warm-up", choices=("constant", "cosine")),
    "warmup_steps": Param(0, "linear learning-rate warm-up over the first N steps", valid="[0, inf)"),
    "grad_clip": Param(0.0, "clip the gradients' global L2 norm to this (0: off)", valid="[0, inf)"),
    "amp": Param(
        "none",
        "mixed precision of encoders and heads (loss terms stay float32); fp16 needs CUDA",
        choices=("none", "bf16", "fp16"),
    ),
    "device": Param(
        "auto", "auto: CUDA when there is a GPU; cpu forces the CPU", choices=("auto", "cpu", "cuda")
    ),
    "num_workers": Param(
        -1,
        "input loader worker processes (-1: from the CPU count for raw inputs, 0 for features)",
        valid="[-1, inf)",
    ),
    "single_pass": Param(
        True,
        "embed each modality's rows and views in one forward pass (false: one pass each, for towers with "
        "BatchNorm, whose statistics depend on the pass)",
    ),
    "ssl_views": Param(
        "two",
        "SSL views: two augmented copies, or the released code's original row + one augmented copy",
        choices=("two", "original"),
    ),
    "embed_dim": Param(256, "dimension d of the shared space", valid="[1, inf)"),
    "head_dropout": Param(0.1, "dropout inside the projection head", valid="[0, 1)"),
    "unpaired": Param(
        "same", 'unpaired protocol (docs/methods.md, "The setting")', choices=("same", "disjoint")
    ),
    "val_fraction": Param(
        0.0,
        "share of the train pool held out as a validation split (val_* metrics; for tuning)",
        valid="[0, 1)",
    ),
    "eval_every": Param(
        0, "evaluate every N steps as well as at the end (0: only at the end)", valid="[0, inf)"
    ),
    "checkpoint_every": Param(200, "save a resumable checkpoint every N steps (0: never)", valid="[0, inf)"),
    "allow_empty": Param(
        False,
        "run a cell that gets no pairs at r > 0, no unpaired rows at r = 0, or an empty train or "
        "validation split (refused otherwise, before anything is written)",
    ),
}


@dataclass
class TaskData:
    """What a task hands the harness.

    `train_a`, `train_b`: the train pool, N items each, row i of one the counterpart of row i of
    the other; a Tensor (indexed by rows) or an object with `take(idx: LongTensor)` and `__len__`.
    `b_ids`: (N,) long, equal where two items have identical B content (positives of each other),
    or None; or (N, m) when each B item holds m alternatives (train_b a Tensor (N, m, ...), e.g. the
    captions of an image): each step then embeds one alternative per B row, drawn with the step's
    generator (bench/engine/loader.py `make_inputs`), and two paired rows are positives when the ids of
    their drawn alternatives are equal. `keywords`: the B-encoder input of a keyword vocabulary, with
    `keyword_mask` (N × K bool) the keywords in each item's B content, or None. `eval`: whatever
    `evaluate` needs.
    `about`: what the evaluation was made on, written with every run (status.json `data`):
    `{"eval_sets": {name: {"source", "split", "size", "overlap", "excluded"}}, ...}`, JSON values only;
    `overlap` counts the items also in the train pool (tasks/contamination.py), `excluded` those dropped;
    and `{"protocols": {metric: {"protocol": NAME, "set", "split", ...}}}`: how each metric `evaluate`
    returns is measured, NAME one of bench/protocols.py PROTOCOLS (the task contract test checks both).
    """

    train_a: Any
    train_b: Any
    eval: Any = None
    b_ids: Tensor | None = None
    keywords: Any = None
    keyword_mask: Tensor | None = None
    about: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.train_a)


def take(pool: Any, idx: Tensor) -> Any:
    """Rows `idx` of a pool: a Tensor is indexed, anything else answers `take(idx)`."""
    return pool[idx] if isinstance(pool, Tensor) else pool.take(idx)


class Task:
    """Base of every task. Subclasses set `name`, `params`, `primary_metric` and `smoke_params`, state
    their rules on parameter combinations in `check`, and implement `load`, `encoders`, `views` and
    `evaluate` (and `evaluate_items` to be tunable).

    `presets`: named protocols, each a dict of parameter values (task or training parameters); a task
    with presets has the parameter `preset` (`none` or one of their names), and `preset=NAME` sets the
    preset's values wherever the run gives none itself (bench/registry.py `Entry.resolve`), so explicit
    values win and the run records the preset's name with every value.

    `smoke_params`: parameters (over the defaults) with which the task loads offline in seconds on a
    CPU, trains a few steps and evaluates: the task contract test runs every task with them.
    `bad_params`: parameters (over `smoke_params`) that `check` refuses, an example of its rules.
    `references`: the reference rows its `evaluate` reports (values that need no training, a metric
    `ref_NAME_<metric>` each): NAME → how the tables show the row; a run records them (about.json), so
    the report names them without importing the task, and the task contract test checks that every
    reference metric a run reports is declared.
    `debian_packages`: the Debian packages the task may need, a literal tuple of names: the set-up
    (bench/bootstrap.py, which reads it without importing the task) installs them, and a task installs
    nothing on demand (bench/apt.py `ensure`) that it does not declare here.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    train_defaults: ClassVar[dict[str, Any]] = {}
    variants: ClassVar[dict[str, Variant]] = {}
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    primary_metric: ClassVar[str] = ""
    label: ClassVar[str] = ""  # display name in tables (default: name); `order`: listed lower first
    order: ClassVar[int] = 1000
    smoke_params: ClassVar[dict[str, Any]] = {}
    bad_params: ClassVar[dict[str, Any]] = {}
    references: ClassVar[dict[str, str]] = {}
    debian_packages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **values: Any):
        """Every declared parameter: the declared defaults overridden by `values`, each checked against
        its choices and valid range, then the task's rules (`check`); an unknown name or a broken rule is
        a BenchError."""
        declared = self.declared_params()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise BenchError(
                f"task {self.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"its parameters: {', '.join(sorted(declared))}"
            )
        p = {name: param.default for name, param in declared.items()} | values
        for name, param in declared.items():
            param.check(name, p[name], f"task {self.name}")
        self.check(p)
        self.p = p

    def check(self, p: dict[str, Any]) -> None:
        """Refuse parameters `p` (every declared one, each already within its choices and valid range,
        `Param.valid`) that cannot work together, with `BenchError("task NAME: what is wrong, and what to
        do")`. The common training parameters have one joint rule here (amp=fp16 needs CUDA); the harness's
        rules on the split are `bench.cell.rules.empty_cell`; a task adds its own rules and calls
        `super().check(p)`."""
        self.refuse(
            [
                (
                    not (p["amp"] == "fp16" and p["device"] == "cpu"),
                    "amp=fp16 needs CUDA (its grad scaler); on the CPU use amp=bf16 or amp=none",
                )
            ]
        )

    def pool_size(self) -> int | None:
        """N, the number of items of the train pool that `load` will return, when it is known without
        loading (cheap: no data read); None otherwise. Grid expansion uses it to refuse, before anything
        is written, a cell whose split is empty (no pairs at r > 0, ...); with None the engine refuses it
        at set-up, before the first step."""
        return None

    def provides(self) -> dict[str, str]:
        """What this task, with its parameters, gives a method that `requires` it (methods/base.py), as
        name → why not ("" where it does): `keywords`, a vocabulary of concepts in the B texts with the
        concepts of each item (TaskData.keywords, keyword_mask). A name left out is not given and has
        no fix. Known without loading."""
        return {}

    def refuse(self, rules: list[tuple[bool, str]]) -> None:
        """BenchError("task NAME: message") for the first rule (ok, message) that does not hold."""
        for ok, message in rules:
            if not ok:
                raise BenchError(f"task {self.name}: {message}")

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        common = {
            k: replace(p, default=cls.train_defaults.get(k, p.default)) for k, p in COMMON_PARAMS.items()
        }
        preset = {}
        if cls.presets:
            names = ", ".join(cls.presets)
            help_ = f"a named protocol whose values apply where none are given: {names} (docs/tasks.md)"
            preset = {"preset": Param("none", help_, choices=("none", *cls.presets))}
        return {**common, **cls.params, **preset}

    def prepare(self) -> dict[str, Any]:
        """Fetch, build and cache the data (idempotent; progress bars on long work); return a summary
        of counts for `python -m bench data`. `load` calls it on demand."""
        return {}

    def load(self) -> TaskData:
        """The train pool and evaluation data; deterministic given the task parameters."""
        raise NotImplementedError

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """Towers f_A and f_B, each an nn.Module with an int attribute `out_dim`."""
        raise NotImplementedError

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """The frozen unimodal features that a method that fits is given by default (its FitData, and
        what a closed-form fit embeds in evaluation): per modality a module from this task's encoder
        inputs (train pool and evaluation alike) to features, with an int `out_dim` and a str
        `feature_name` saying what they are (recorded with the run, `fit_features`). Deterministic: no
        random weights, no training mode (tasks/_frozen.py `FrozenInputs`, `FrozenPixels`,
        `FrozenTower`, `FrozenLookup`). A request the task cannot serve (pretrained features whose weights do
        not load; what `check_frozen` refuses) is a BenchError naming the parameter and the fix, never other
        features in their place."""
        raise NotImplementedError

    def check_frozen(self) -> str | None:
        """Why this task, with its parameters, cannot serve its frozen features (`frozen_features`) to a
        method that reads them (Method.reads_frozen), in one line naming the parameter and the fix; None
        where it can. Known without loading: the grid asks it of every such cell before anything is
        written (bench/cell/grid.py `expand`); the cells of other methods are not affected."""
        return None

    def views(self, side: str, x: Any, generator: torch.Generator) -> tuple[Any, Any]:
        """Two random views of encoder inputs `x` of modality `side` ("a" or "b") for the SSL term."""
        raise NotImplementedError

    def evaluate(self, model: Any, data: TaskData, paired: Tensor) -> dict[str, float]:
        """Metrics of a trained model (`model.embed_a(x)`, `model.embed_b(x)`: rows whose dot product is the
        score, unit rows for every trained method; eval mode, no gradient). `paired` holds the train
        indices of the paired set, for reference values (e.g. a nearest-neighbour lookup) that use only
        what the methods were given. Zero-shot over several prompt templates pools a class's prompts as
        the model's `prompt_pooling` says (absent: `mean`; tasks/metrics.py `class_scores`)."""
        raise NotImplementedError

    def evaluate_items(self, model: Any, data: TaskData, idx: Tensor) -> dict[str, float]:
        """The same metrics on train-pool items `idx` (the validation split), as `evaluate` computes them
        on the test set; tasks that cannot are not tunable."""
        raise NotImplementedError(f"task {self.name} cannot evaluate train-pool items (val_fraction)")
