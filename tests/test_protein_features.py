"""Frozen protein features, crops, towers and views of the protein task."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from tasks.protein import Protein, features
from tasks.protein.towers import IdentityTower, text_views
from tasks.protein.validate import STANDARD


def _naive_kmer(seq: str) -> np.ndarray:
    out = np.zeros(features.KMER_DIM)
    index = {a: i for i, a in enumerate(STANDARD)}
    column = 0
    for k, size in ((1, 20), (2, 400), (3, features.KMER_BUCKETS)):
        grams = [seq[i : i + k] for i in range(len(seq) - k + 1) if all(c in index for c in seq[i : i + k])]
        for gram, n in Counter(grams).items():
            code = sum(index[c] * 20 ** (k - 1 - j) for j, c in enumerate(gram))
            if k == 3:
                code = int(features._trimer_bucket(np.array([code]))[0])
            out[column + code] += n / len(grams)
        column += size
    return np.sqrt(out)


def test_kmer_matches_a_direct_count_and_skips_nonstandard_residues():
    seqs = ["MKVLAAGIVGLLLAW", "ACDXEFGHIK", "MM", "W"]
    got = features.kmer(seqs, chunk=3)  # chunk boundary inside the list
    assert got.shape == (4, 1444) and got.dtype == np.float32
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(got[i], _naive_kmer(seq), atol=1e-6)
    assert got[3, 20:].sum() == 0  # one residue: no 2-mer, no 3-mer


def test_crops_are_substrings_of_the_right_lengths():
    seqs = ["A" * 5 + "C" * 95, "MKV" * 40, "MK"]
    out = features.crops(seqs, 3, 0.5, np.random.default_rng(0))
    assert len(out) == 9
    for i, crop in enumerate(out):
        whole = seqs[i // 3]
        assert crop in whole
        assert min(len(whole), features.MIN_CROP, round(0.5 * len(whole))) <= len(crop) <= len(whole)
    assert len(set(out[:3])) > 1


def test_tiny_esm2_features_are_deterministic():
    pytest.importorskip("esm")
    seqs = ["MKVLAAGIVGLLLAW", "ACDEFGHIK", "MKTAYIAKQRQISFVKSHFSRQ"]
    first = features.esm2(seqs, "tiny", max_tokens=40)  # several batches
    features.load_esm.cache_clear()
    second = features.esm2(seqs[::-1], "tiny")
    assert first.shape == (3, 64) and np.isfinite(first).all()
    np.testing.assert_allclose(first, second[::-1], atol=1e-5)


def test_protein_towers_read_the_whole_sequence_row_and_keep_the_text_features():
    task = Protein(source="synthetic", tower_width=8)
    data = SimpleNamespace(train_a=SimpleNamespace(features=torch.zeros(2, 3, 6)), train_b=torch.zeros(2, 5))
    protein, text = task.encoders(data)
    protein.eval()
    x = torch.randn(4, 3, 6)
    assert protein.out_dim == 8 and any(isinstance(m, torch.nn.Dropout) for m in protein.modules())
    torch.testing.assert_close(protein(x), protein(x[:, 0]))
    assert isinstance(text, IdentityTower) and text.out_dim == 5


def test_protein_views_are_two_different_crops():
    n, k = 200, 3
    x = torch.arange(n)[:, None, None] * 10 + torch.arange(1 + k)[None, :, None].float()
    task = Protein(source="synthetic", n_crops=k)
    v1, v2 = task.views("a", x.expand(n, 1 + k, 2).clone(), torch.Generator().manual_seed(0))
    row1, row2 = v1[:, 0] % 10, v2[:, 0] % 10
    assert ((row1 >= 1) & (row2 >= 1)).all() and (row1 != row2).all()
    assert torch.equal(v1[:, 0] // 10, torch.arange(n).float())
    assert len(set(row1.tolist())) == k


def test_text_views_differ_and_follow_the_generator():
    x = torch.randn(16, 384)
    a = text_views(x, torch.Generator().manual_seed(1), 0.1, 0.5)
    b = text_views(x, torch.Generator().manual_seed(1), 0.1, 0.5)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], a[1])
    assert torch.equal(text_views(x, torch.Generator(), 0.0, 0.0)[0], x)


def test_esm2_weights_from_a_local_checkpoint(tmp_path):
    pytest.importorskip("esm")
    from argparse import Namespace

    tiny, _ = features.load_esm("tiny")
    cfg = Namespace(encoder_layers=2, encoder_embed_dim=64, encoder_attention_heads=4, token_dropout=True)
    state = {
        f"encoder.{k}": v for k, v in tiny.state_dict().items() if not k.startswith("contact_head.regression")
    }
    path = tmp_path / "esm2_t2_tiny.pt"
    torch.save({"cfg": {"model": cfg}, "model": state}, path)
    seqs = ["MKVLAAGIVGLLLAW", "ACDEFGHIK"]
    np.testing.assert_allclose(features.esm2(seqs, str(path)), features.esm2(seqs, "tiny"), atol=1e-5)
    with pytest.raises(BenchError, match="no such file"):
        features.load_esm(str(tmp_path / "missing.pt"))
    with pytest.raises(BenchError, match="not a fair-esm ESM-2 name"):
        features.load_esm("resnet50")
