"""The protein task on a small real slice of Debian's metastudent-data (skipped when not installed)."""

from __future__ import annotations

import shutil

import pytest
import torch

from tasks.protein import Protein, debian

installed = pytest.mark.skipif(
    not debian._files_present() or shutil.which("mmseqs") is None,
    reason="Debian packages metastudent-data, ncbi-blast+ and mmseqs2 not installed (CI installs them)",
)


def test_text_is_the_sorted_names_without_the_root():
    names = {"GO:1": "protein kinase activity", "GO:2": "ATP binding", debian.ROOT_TERM: "molecular_function"}
    assert debian.text_of({"GO:1", "GO:2", debian.ROOT_TERM}, names) == "ATP binding; protein kinase activity"


@installed
def test_real_slice_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    # linclust: the sensitive mode's fixed cost (about 12 s) is tested on synthetic data
    task = Protein(
        source="debian:metastudent:3000", n_train=240, n_test=60, zs_classes=20, clustering="linclust"
    )
    summary = task.prepare()
    # the first 3,000 proteins of the package: 55 carry only the root term, 39 repeat a sequence
    assert summary["proteins_in_source"] == 3000
    assert summary["dropped_no_mf_term"] == 55 and summary["dropped_duplicate_sequences"] == 39
    assert summary["proteins"] == 2906 and summary["proteins_eligible"] < 2906
    assert summary["n_test"] <= 60 and summary["n_train"] + summary["n_test"] == 300
    assert summary["clusters"] > 50
    data = task.load()
    texts = data.eval.gallery_b
    assert texts.shape[1] == 384 and torch.isfinite(texts).all()

    class Raw:  # the test proteins' own features as both embeddings: only the reference values matter
        def embed_a(self, x):
            return torch.nn.functional.normalize(x[:, :16], dim=1)

        def embed_b(self, x):
            return torch.nn.functional.normalize(x[:, :16], dim=1)

    metrics = task.evaluate(Raw(), data, torch.arange(len(data)))
    assert 0 < metrics["ref_majority_zs_top1"] < 1 and 0 < metrics["ref_nn_a2b_r1"] < 1
