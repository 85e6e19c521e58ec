"""The protein task's prepared data, stage by stage; each stage is one bench.cache entry.

records (per source) → subset (train and test proteins, per sizes, seed and split) → protein
features (per protein encoder and crops) and text features (per text encoder). A stage reads the
one before it only when it is built, so a cached load opens only the feature files.

The source key of an `hf:` source holds its identity (tasks/hub.py: the hub revision, or the files
fingerprint of a local folder), so a new revision or edited files make new entries. The subset stage
records which test proteins have a sequence also in the train set (tasks/contamination.py); the
`contamination` parameter applies to that record on every load (`Pipeline.test_kept`), so the cached
entries do not depend on it.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench import cache
from bench.errors import BenchError
from tasks import _sentences, contamination, hub
from tasks.protein import features, sources, split
from tasks.protein.records import Records

VERSION = 1  # bump when a stage's output changes meaning
CHUNK = 4096  # proteins per feature batch (bounds memory)
STD_FLOOR = 1e-4
SHARED = "contamination.json"  # subset stage: {"test_shared": positions of test proteins also in train}


def _stamp(path: Path) -> list[int] | None:
    """Size and modification time of a user file, so that editing it makes a new cache entry."""
    return [path.stat().st_size, path.stat().st_mtime_ns] if path.is_file() else None


def keys(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The cache key of each stage: everything its output depends on."""
    spec = sources.normalise(p["source"])
    source = {"version": VERSION, "source": spec}
    if spec.startswith("local:"):
        source["files"] = [_stamp(Path(spec[6:]) / name) for name in sources.LOCAL_FILES]
    if spec.startswith("hf:"):  # only here: locating downloads (once per process, memoised)
        source["data_identity"] = hub.locate(spec[3:], sources.WHAT).identity  # ("identity": MMseqs2)
    subset = {**source, **{k: p[k] for k in ("n_train", "n_test", "max_len", "data_seed", "split")}}
    homology = p["split"] == "homology"
    subset.update(
        identity=p["identity"] if homology else None, clustering=p["clustering"] if homology else None
    )
    protein = {**subset, "encoder": p["protein_encoder"], "n_crops": p["n_crops"], "crop_min": p["crop_min"]}
    if p["protein_encoder"] == "esm2":
        protein.update(esm_weights=p["esm_weights"], esm_file=_stamp(Path(p["esm_weights"]).expanduser()))
    return {
        "source": source,
        "subset": subset,
        "protein": protein,
        "text": {**subset, "encoder": p["text_encoder"]},
    }


class Pipeline:
    """The stages for one set of task parameters; `seconds` holds the build time of each stage built."""

    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.keys = keys(p)
        self.seconds: dict[str, float] = {}

    def _missing(self, stage: str, name: str) -> bool:
        return not cache.is_complete(cache.path_of(name, self.keys[stage]))

    def _entry(self, stage: str, name: str, build: Callable[[Path], None]) -> Path:
        def timed(tmp: Path) -> None:
            print(f"protein: building {stage} ({name}) ...", file=sys.stderr, flush=True)
            tic = time.perf_counter()
            build(tmp)
            self.seconds[stage] = time.perf_counter() - tic

        return cache.entry(name, self.keys[stage], timed)

    def records(self) -> Path:
        spec = self.keys["source"]["source"]

        def build(tmp: Path) -> None:
            records, counts = sources.load(spec)
            records.save(tmp)
            (tmp / "counts.json").write_text(json.dumps({**counts, "proteins": len(records)}))

        return self._entry("source", f"protein-records-{spec.split('/')[-1]}", build)

    def subset(self) -> Path:
        if self._missing("subset", "protein-subset"):
            self.records()

        def build(tmp: Path) -> None:
            folder = self.records()
            records = Records.load(folder)
            p = self.p
            chosen = split.choose(
                records.sequences,
                n_train=p["n_train"],
                n_test=p["n_test"],
                max_len=p["max_len"],
                seed=p["data_seed"],
                split=p["split"],
                identity=p["identity"],
                clustering=p["clustering"],
            )
            parts = {role: records.select(chosen[role].tolist()) for role in ("train", "test")}
            for role, part in parts.items():
                (tmp / role).mkdir()
                part.save(tmp / role)
            test_shared = shared_with_train(parts["train"].sequences, parts["test"].sequences)
            (tmp / SHARED).write_text(json.dumps({"test_shared": test_shared}))
            summary = {
                **json.loads((folder / "counts.json").read_text()),
                **_counts(records, chosen, p["max_len"]),
                "test_overlap": len(test_shared),
            }
            (tmp / "summary.json").write_text(json.dumps(summary))

        return self._entry("subset", "protein-subset", build)

    def parts(self) -> tuple[Records, Records]:
        folder = self.subset()
        return Records.load(folder / "train"), Records.load(folder / "test")

    def protein(self) -> dict[str, Tensor]:
        """train (n, 1 + K, F) and test (n_test, F) float16 features; mean and std (F) of the train ones."""

        def build() -> dict[str, Tensor]:
            train, test = self.parts()
            rng = np.random.default_rng([self.p["data_seed"], 1])
            k, crop_min = self.p["n_crops"], self.p["crop_min"]
            blocks = []
            for i in range(0, len(train), CHUNK):
                seqs = train.sequences[i : i + CHUNK]
                whole, parts = self._encode(seqs), self._encode(features.crops(seqs, k, crop_min, rng))
                blocks.append(torch.cat([whole[:, None], parts.reshape(len(seqs), k, -1)], dim=1).half())
            train_f = torch.cat(blocks)
            test_f = torch.cat(
                [self._encode(test.sequences[i : i + CHUNK]).half() for i in range(0, len(test), CHUNK)]
            )
            whole = train_f[:, 0].float()
            return {
                "train": train_f,
                "test": test_f,
                "mean": whole.mean(0),
                "std": whole.std(0).clamp(min=STD_FLOOR),
            }

        name = f"protein-features-{self.p['protein_encoder']}"
        return self._tensors("protein", name, build)

    def _encode(self, sequences: list[str]) -> Tensor:
        if self.p["protein_encoder"] == "esm2":
            return torch.from_numpy(features.esm2(sequences, self.p["esm_weights"]))
        return torch.from_numpy(features.kmer(sequences))

    def text(self) -> dict[str, Tensor]:
        """features (m, d) float32 of the distinct texts (sorted), train_text and test_text: text ids."""

        def build() -> dict[str, Tensor]:
            train, test = self.parts()
            texts = sorted(set(train.texts) | set(test.texts))
            index = {t: i for i, t in enumerate(texts)}
            return {
                "features": torch.from_numpy(
                    np.asarray(_sentences.encode(texts, self.p["text_encoder"]), np.float32)
                ),
                "train_text": torch.tensor([index[t] for t in train.texts]),
                "test_text": torch.tensor([index[t] for t in test.texts]),
            }

        return self._tensors("text", f"protein-text-{self.p['text_encoder'].split('/')[-1]}", build)

    def _tensors(self, stage: str, name: str, build: Callable[[], dict[str, Tensor]]) -> dict[str, Tensor]:
        if self._missing(stage, name):
            self.subset()
        folder = self._entry(stage, name, lambda tmp: torch.save(build(), tmp / cache.TENSORS))
        return torch.load(folder / cache.TENSORS, mmap=True, weights_only=True)

    def summary(self) -> dict[str, Any]:
        return json.loads((self.subset() / "summary.json").read_text())

    def test_kept(self) -> tuple[list[int] | None, int]:
        """Positions of the test proteins to evaluate under the `contamination` policy (None: all), and
        how many test proteins share their sequence with a train protein; BenchError under `refuse` if
        any does."""
        folder = self.subset()
        if (folder / SHARED).is_file():
            shared = json.loads((folder / SHARED).read_text())["test_shared"]
        else:  # an entry made before the guard: compare its parts now
            shared = shared_with_train(*(Records.load(folder / role).sequences for role in ("train", "test")))
        n_test = json.loads((folder / "summary.json").read_text())["n_test"]
        return guard_test(n_test, shared, self.p["contamination"]), len(shared)


def shared_with_train(train_sequences: list[str], test_sequences: list[str]) -> list[int]:
    """Positions of the test proteins whose residues (SHA-256) are those of a train protein."""
    train = set(contamination.digests(s.encode() for s in train_sequences))
    return contamination.shared(contamination.digests(s.encode() for s in test_sequences), train)


def guard_test(n_test: int, shared: list[int], policy: str) -> list[int] | None:
    """The contamination guard on the test set: the positions to keep (None: all), from the positions
    of the `n_test` test proteins that are also train proteins. The guard compares positions here, the
    shared ones standing for the train pool, since the sequences were compared when the subset was made."""
    if not shared:
        return None
    labels = [str(i) for i in range(n_test)]
    keep = contamination.guard("protein", "test", labels, {labels[i] for i in shared}, policy)
    if not keep:
        raise BenchError(
            f"task protein: all {n_test:,} test proteins are also train proteins (same sequence); "
            "nothing is left to evaluate with contamination=exclude"
        )
    return keep


def _counts(records: Records, chosen: dict[str, np.ndarray], max_len: int) -> dict[str, Any]:
    """Counts of the eligible proteins (length ≤ max_len) and of the chosen train and test sets."""
    eligible = [
        t for s, t in zip(records.sequences, records.texts, strict=True) if not max_len or len(s) <= max_len
    ]
    per_text = Counter(eligible)
    common = [c for c in per_text.values() if c >= 20]
    train_texts = {records.texts[i] for i in chosen["train"]}
    test_texts = [records.texts[i] for i in chosen["test"]]
    out = {
        "proteins_eligible": len(eligible),
        "texts_eligible": len(per_text),
        "texts_shared_by_20_plus": len(common),
        "proteins_with_such_text_frac": round(sum(common) / max(len(eligible), 1), 4),
        "n_train": len(chosen["train"]),
        "n_test": len(chosen["test"]),
        "texts_train": len(train_texts),
        "texts_test": len(set(test_texts)),
        "test_text_unseen_frac": round(sum(t not in train_texts for t in test_texts) / len(test_texts), 4),
    }
    if "cluster" in chosen:
        sizes = np.bincount(chosen["cluster"])
        out.update(clusters=int((sizes > 0).sum()), largest_cluster=int(sizes.max()))
    return out
