"""The protein task's data pipeline on generated data: synthetic and local:DIR sources, caching."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench import cache
from tasks import _sentences
from tasks.protein import Protein, features, sources, synthetic

SMALL = {"source": "synthetic:600", "n_train": 400, "n_test": 100, "split": "random", "n_crops": 3}
METRICS = {"a2b_r1", "a2b_r5", "a2b_r10", "b2a_r1", "b2a_r5", "b2a_r10", "zs_top1", "zs_top5", "zs_mpcr"}
METRICS |= {"a2b_map", "b2a_map", "align_mknn", "align_cka", "align_cknna"}  # MAP and alignment (issue 23)


@pytest.fixture(autouse=True)
def _cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def calls(monkeypatch):
    """Counts of the expensive calls; the text encoder replaced by a fast deterministic stand-in."""
    counts = {"source": 0, "kmer": 0, "text": 0}
    real_load, real_kmer = sources.load, features.kmer

    def load(spec):
        counts["source"] += 1
        return real_load(spec)

    def kmer(seqs, *args, **kwargs):
        counts["kmer"] += 1
        return real_kmer(seqs, *args, **kwargs)

    def text(texts, encoder):
        counts["text"] += 1
        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(384) for t in texts])

    monkeypatch.setattr(sources, "load", load)
    monkeypatch.setattr(features, "kmer", kmer)
    monkeypatch.setattr(_sentences, "encode", text)  # the sentence model, shared with rs and vl
    return counts


class Model(nn.Module):
    """Towers + random linear heads + normalisation, like the harness's model."""

    def __init__(self, task: Protein, data):
        super().__init__()
        torch.manual_seed(0)
        self.tower_a, self.tower_b = task.encoders(data)
        self.head_a, self.head_b = nn.Linear(self.tower_a.out_dim, 32), nn.Linear(self.tower_b.out_dim, 32)

    def embed_a(self, x):
        return F.normalize(self.head_a(self.tower_a(x)), dim=-1)

    def embed_b(self, x):
        return F.normalize(self.head_b(self.tower_b(x)), dim=-1)


def _check_task_data(task: Protein, n_train: int, n_crops: int, dim_a: int):
    data = task.load()
    assert len(data) == n_train and len(data.train_a) == n_train and data.train_b.shape == (n_train, 384)
    x = data.train_a.take(torch.arange(n_train))
    assert x.shape == (n_train, 1 + n_crops, dim_a) and x.dtype == torch.float32
    assert x[:, 0].mean(0).abs().max() < 0.05  # standardised with the train statistics
    assert data.b_ids.shape == (n_train,)
    same = data.b_ids[:, None] == data.b_ids[None, :]
    assert torch.equal(same, (data.train_b[:, None] == data.train_b[None, :]).all(-1))
    v1, v2 = task.views("a", x[:8], torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == (8, dim_a) and not torch.equal(v1, v2)
    w1, w2 = task.views("b", data.train_b[:8], torch.Generator().manual_seed(0))
    assert w1.shape == (8, 384) and not torch.equal(w1, w2)
    model = Model(task, data).eval()
    with torch.no_grad():
        metrics = task.evaluate(model, data, torch.arange(0, n_train, 2))
    expected = METRICS | {"ref_nn_a2b_r1", "ref_majority_zs_top1"}
    assert set(metrics) == (expected if len(data.eval.gallery) >= 5 else expected - {"zs_top5"})
    assert all(0 <= v <= 1 for v in metrics.values())
    return data, metrics


def test_synthetic_source_end_to_end_with_minilm():
    task = Protein(**SMALL)
    summary = task.prepare()
    assert summary["proteins_in_source"] == 600 and summary["n_train"] == 400 and summary["n_test"] == 100
    assert summary["protein_dim"] == 1444 and summary["text_dim"] == 384
    data, metrics = _check_task_data(task, 400, 3, 1444)
    # families are close homologues: the lookup on k-mer features beats chance by far on a random split
    assert metrics["ref_nn_a2b_r1"] > 0.6
    assert summary["texts_test"] == len(data.eval.gallery)


def test_local_source_end_to_end(tmp_path, calls):
    records, _ = synthetic.generate(300, seed=3)
    folder = tmp_path / "local"
    folder.mkdir()
    fasta = "".join(
        f">{a} protein {i}\n{s[:60]}\n{s[60:]}\n"
        for i, (a, s) in enumerate(zip(records.accessions, records.sequences, strict=True))
    )
    (folder / "proteins.fasta").write_text(fasta)
    rows = [f"{a}\t{t}" for a, t in zip(records.accessions, records.texts, strict=True)]
    rows = rows[:250]  # 50 proteins have no text
    (folder / "texts.tsv").write_text("accession\ttext\n" + "\n".join(rows) + "\n")
    task = Protein(source=f"local:{folder}", n_train=200, n_test=50, split="random", n_crops=2)
    summary = task.prepare()
    assert summary["proteins"] == 250 and summary["n_train"] == 200 and summary["n_test"] == 50
    _check_task_data(task, 200, 2, 1444)
    # editing the files makes a new entry
    (folder / "texts.tsv").write_text("accession\ttext\n" + "\n".join(rows[:240]) + "\n")
    assert (
        Protein(source=f"local:{folder}", n_train=200, n_test=40, split="random").prepare()["proteins"] == 240
    )


def test_second_load_reuses_every_stage(calls):
    Protein(**SMALL).load()
    assert calls == {
        "source": 1,
        "kmer": 3,
        "text": 1,
    }  # k-mers of the train sequences, their crops, the test ones
    tensors = sorted(cache.root().glob("protein-*/tensors.pt"))
    mtimes = [p.stat().st_mtime_ns for p in tensors]
    again = Protein(**SMALL).prepare()  # what load runs, with the build seconds of this call
    assert calls == {"source": 1, "kmer": 3, "text": 1}
    assert [p.stat().st_mtime_ns for p in tensors] == mtimes
    assert "build_protein_s" not in again
    # another split of the same source reuses the records but not the subset or the features
    Protein(**{**SMALL, "data_seed": 1}).load()
    assert calls == {"source": 1, "kmer": 6, "text": 2}


def test_an_interrupted_feature_build_is_rebuilt(calls, monkeypatch):
    real_kmer = features.kmer

    def dies_on_crops(seqs, *args, **kwargs):
        if calls["kmer"] >= 1:
            raise KeyboardInterrupt
        calls["kmer"] += 1
        return real_kmer(seqs, *args, **kwargs)

    monkeypatch.setattr(features, "kmer", dies_on_crops)
    with pytest.raises(KeyboardInterrupt):
        Protein(**SMALL).load()
    assert not list(cache.root().glob("protein-features-*")) and not list(cache.root().glob(".*tmp-*"))
    assert len(list(cache.root().glob("protein-subset-*/.complete"))) == 1
    monkeypatch.setattr(features, "kmer", real_kmer)
    task = Protein(**SMALL)
    summary = task.prepare()
    assert len(task.load()) == 400 and "build_protein_s" in summary and "build_subset_s" not in summary


def test_same_text_positives_off(calls):
    assert Protein(**SMALL, same_text_positives=False).load().b_ids is None


def test_tiny_esm2_encoder(calls):
    pytest.importorskip("esm")
    task = Protein(
        source="synthetic:80",
        n_train=60,
        n_test=15,
        split="random",
        protein_encoder="esm2",
        esm_weights="tiny",
        n_crops=2,
    )
    _check_task_data(task, 60, 2, 64)


def test_pool_smaller_than_asked_is_scaled_down(calls):
    summary = Protein(source="synthetic:220", n_train=2000, n_test=200, split="random").prepare()
    assert summary["n_train"] == 200 and summary["n_test"] == 20


def test_local_paths_are_one_cache_entry(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    assert (
        sources.normalise(f"local:{folder}")
        == sources.normalise(f"local:{tmp_path}/./d")
        == f"local:{Path(folder)}"
    )
