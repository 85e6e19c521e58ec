"""Frozen encoders: sequences → fixed feature vectors (computed once, then cached); texts: _sentences.py.

- `kmer`: k-mer composition, k = 1 and 2 exact (20 + 400 dims), k = 3 hashed into 1,024 buckets;
  each block holds the frequencies of its k-mers in the sequence (k-mers with a non-standard residue
  skipped), square-rooted. Standardisation with train statistics happens when the features are used.
- `esm2`: ESM-2 (fair-esm), the last layer averaged over the residues (BOS, EOS, padding excluded);
  weights a fair-esm name (downloaded once into torch's hub folder), a local `.pt` path, or `tiny`
  (2 layers of width 64, random weights seeded with 0: tests only).
- crops: random sub-sequences, the protein views of the self-supervised term.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.device import default_device
from bench.errors import BenchError
from tasks.protein.validate import STANDARD

KMER_BUCKETS = 1024
KMER_DIM = 20 + 400 + KMER_BUCKETS
MIN_CROP = 10
ESM_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{}.pt"

_CODE = np.full(256, 20, np.int64)
_CODE[np.frombuffer(STANDARD.encode(), np.uint8)] = np.arange(20)


def _trimer_bucket(code: np.ndarray) -> np.ndarray:
    """Multiplicative hash of a 3-mer code in [0, 8000) to a bucket in [0, 1024)."""
    return ((code * 2654435761) % 2**32) >> 22


def kmer(sequences: list[str], chunk: int = 4096) -> np.ndarray:
    """(n, 1444) float32: square roots of the k-mer frequencies, k = 1, 2, 3 (hashed)."""
    out = np.zeros((len(sequences), KMER_DIM), np.float32)
    for start in tqdm(range(0, len(sequences), chunk), desc="k-mer features", leave=False, disable=None):
        batch = sequences[start : start + chunk]
        lengths = np.fromiter(map(len, batch), np.int64, len(batch))
        codes = np.concatenate([_CODE[np.frombuffer("".join(batch).encode(), np.uint8)], np.full(2, 20)])
        owner = np.repeat(np.arange(len(batch)), lengths)
        position = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        column = 0
        for k in (1, 2, 3):
            window = codes[np.arange(k)[:, None] + np.arange(len(owner))]
            ok = (position <= lengths[owner] - k) & (window < 20).all(axis=0)
            code = (window[:, ok] * (20 ** np.arange(k - 1, -1, -1))[:, None]).sum(axis=0)
            size = 20**k
            if k == 3:
                code, size = _trimer_bucket(code), KMER_BUCKETS
            counts = np.bincount(owner[ok] * size + code, minlength=len(batch) * size).reshape(
                len(batch), size
            )
            total = np.maximum(counts.sum(axis=1, keepdims=True), 1)
            out[start : start + len(batch), column : column + size] = np.sqrt(counts / total)
            column += size
    return out


def crops(sequences: list[str], n_crops: int, crop_min: float, rng: np.random.Generator) -> list[str]:
    """n_crops random sub-sequences per sequence, protein-major (n · n_crops strings): each of length
    round(u · L), u ~ U(crop_min, 1), at least min(L, 10), at a uniform start."""
    lengths = np.repeat(np.fromiter(map(len, sequences), np.int64, len(sequences)), n_crops)
    size = np.clip(
        np.rint(rng.uniform(crop_min, 1.0, len(lengths)) * lengths), np.minimum(lengths, MIN_CROP), lengths
    )
    start = np.floor(rng.random(len(lengths)) * (lengths - size + 1)).astype(np.int64)
    size = size.astype(np.int64)
    return [sequences[i // n_crops][s : s + z] for i, (s, z) in enumerate(zip(start, size, strict=True))]


def _esm_checkpoint(path: Path):
    import esm

    data = torch.load(path, map_location="cpu", weights_only=False)  # a fair-esm checkpoint the user chose
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no contact-regression weights: contacts are not used here
        return esm.pretrained.load_model_and_alphabet_core(path.stem, data, None)


@lru_cache(maxsize=1)
def load_esm(weights: str):
    """(model, alphabet) of ESM-2 weights: `tiny`, a local .pt path, or a fair-esm model name."""
    import esm

    if weights == "tiny":
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = esm.ESM2(num_layers=2, embed_dim=64, attention_heads=4, alphabet="ESM-1b")
        return model, model.alphabet
    path = Path(weights).expanduser()
    if path.suffix == ".pt":
        if not path.is_file():
            raise BenchError(
                f"esm_weights {weights}: no such file; give a fair-esm checkpoint (.pt) or a model name"
            )
        return _esm_checkpoint(path)
    if not (weights.startswith("esm2_") and hasattr(esm.pretrained, weights)):
        raise BenchError(
            f"esm_weights {weights!r} is not a fair-esm ESM-2 name (e.g. esm2_t6_8M_UR50D), "
            "a .pt path or tiny"
        )
    cached = Path(torch.hub.get_dir()) / "checkpoints" / f"{weights}.pt"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(ESM_URL.format(weights), str(cached))
        except Exception as exc:  # network errors come in many types
            raise BenchError(
                f"cannot download ESM-2 weights {weights} ({type(exc).__name__}); offline, fetch "
                f"{ESM_URL.format(weights)} elsewhere and pass esm_weights=/path/to/{weights}.pt, "
                "or use protein_encoder=kmer"
            ) from None
    return _esm_checkpoint(cached)


def esm2(sequences: list[str], weights: str, max_tokens: int = 8192) -> np.ndarray:
    """(n, width) float32: ESM-2 last-layer mean over residues (sequences cut at 1,022 residues)."""
    model, alphabet = load_esm(weights)
    device = default_device()
    model = model.eval().to(device)
    convert = alphabet.get_batch_converter()
    out = np.zeros((len(sequences), model.embed_dim), np.float32)
    order = np.argsort([len(s) for s in sequences], kind="stable")
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * (min(len(sequences[i]), 1022) + 2) > max_tokens:
            batches.append(current)
            current = []
        current.append(i)
    batches += [current] if current else []
    for batch in tqdm(batches, desc="ESM-2 features", leave=False, disable=None):
        _, _, tokens = convert([(str(i), sequences[i][:1022]) for i in batch])
        tokens = tokens.to(device)
        with torch.inference_mode():
            rep = model(tokens, repr_layers=[model.num_layers])["representations"][model.num_layers]
        keep = (tokens != alphabet.padding_idx) & (tokens != alphabet.cls_idx) & (tokens != alphabet.eos_idx)
        mean = (rep * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)
        out[np.asarray(batch)] = mean.float().cpu().numpy()
    return out
