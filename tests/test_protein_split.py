"""Train/test split of the protein task: sizes, random, and homology (MMseqs2 clusters on one side)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.errors import BenchError
from tasks.protein import split, synthetic

needs_mmseqs = pytest.mark.skipif(
    shutil.which("mmseqs") is None, reason="mmseqs (Debian mmseqs2) not installed"
)


@pytest.mark.parametrize(
    "eligible, n_train, n_test, expected",
    [
        (1000, 500, 100, (500, 100)),
        (1000, 0, 100, (900, 100)),
        (1000, 0, 0, (900, 100)),
        (1000, 90, 0, (90, 10)),
        (300, 2000, 200, (273, 27)),
    ],
)
def test_sizes(eligible, n_train, n_test, expected):
    assert split.sizes(eligible, n_train, n_test) == expected


def test_too_few_proteins_is_a_clear_error():
    with pytest.raises(BenchError, match="only 2 proteins are eligible"):
        split.sizes(2, 100, 10)


def test_random_split_is_seeded_disjoint_and_respects_max_len():
    seqs = ["M" * n for n in range(1, 301)]
    a = split.choose(seqs, n_train=100, n_test=20, max_len=200, seed=0, split="random", identity=0.3)
    b = split.choose(seqs, n_train=100, n_test=20, max_len=200, seed=0, split="random", identity=0.3)
    assert len(a["train"]) == 100 and len(a["test"]) == 20
    assert not set(a["train"]) & set(a["test"]) and np.array_equal(a["train"], b["train"])
    assert max(len(seqs[i]) for i in np.concatenate([a["train"], a["test"]])) <= 200


@needs_mmseqs
@pytest.mark.parametrize("clustering", ["cluster", "linclust"])
def test_homology_split_keeps_clusters_and_families_on_one_side(clustering):
    records, families = synthetic.generate(1200, seed=0)
    kw = dict(n_train=900, n_test=200, max_len=1000, seed=0, identity=0.3, clustering=clustering)
    homology = split.choose(records.sequences, split="homology", **kw)
    train, test = homology["train"], homology["test"]
    # whole clusters fill the test set up to n_test; the rest of the pool is train
    assert 150 < len(test) <= 200 and len(train) + len(test) == 1100 and not set(train) & set(test)
    clusters_train, clusters_test = homology["cluster"][: len(train)], homology["cluster"][len(train) :]
    assert not set(clusters_train) & set(clusters_test)
    # independent check with the generator's families (close homologues): they should not cross either
    crossing = np.isin(families[test], families[train]).mean()
    assert crossing < 0.05
    random = split.choose(records.sequences, split="random", **kw)
    assert np.isin(families[random["test"]], families[random["train"]]).mean() > 0.8


@needs_mmseqs
def test_clusters_follow_the_families():
    records, families = synthetic.generate(300, seed=1)
    labels = split.clusters(records.sequences, 0.3, "linclust")
    for label in np.unique(labels):
        assert len(set(families[labels == label])) == 1  # no cluster mixes unrelated families
    assert len(np.unique(labels)) <= 1.2 * len(np.unique(families))  # nor splits many of them
