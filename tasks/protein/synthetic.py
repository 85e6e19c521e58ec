"""The `synthetic[:N]` source (tests): protein families with a known function text.

Each family has an ancestor sequence drawn from its own amino-acid composition; a member is the
ancestor with 5 % of its residues substituted and up to 10 % trimmed at each end, so members of a
family are close homologues. Family sizes follow a Zipf-like law. Several families share a text,
and their compositions scatter around one composition per text, so the composition carries the
function across families: a homology split still leaves something to learn.
"""

from __future__ import annotations

import numpy as np

from tasks.protein.records import Records
from tasks.protein.validate import STANDARD

DEFAULT_N = 3000
_LIGANDS = ["ATP", "zinc ion", "DNA", "RNA", "heme", "calcium ion", "GTP", "NAD", "iron-sulfur cluster"]
_ACTIVITIES = ["binding", "kinase activity", "hydrolase activity", "transporter activity", "ligase activity"]


def text_vocabulary(n: int) -> list[str]:
    """n distinct function texts, e.g. 'ATP binding' or 'DNA binding; heme kinase activity'."""
    names = [f"{a} {b}" for b in _ACTIVITIES for a in _LIGANDS]
    pairs = ["; ".join(sorted((x, y), key=str.casefold)) for i, x in enumerate(names) for y in names[i + 1 :]]
    return (names + pairs)[:n]


def generate(n: int = DEFAULT_N, seed: int = 0) -> tuple[Records, np.ndarray]:
    """n proteins and the family index of each."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(STANDARD))
    n_families = max(4, n // 25)
    texts = text_vocabulary(max(3, n_families // 3))
    family_text = rng.integers(len(texts), size=n_families)
    weights = 1.0 / np.arange(1, n_families + 1) ** 0.8
    families = rng.choice(n_families, size=n, p=weights / weights.sum())
    text_composition = rng.dirichlet(np.full(20, 2.0), size=len(texts))
    compositions = np.stack([rng.dirichlet(50 * text_composition[t] + 1e-3) for t in family_text])
    ancestors = [rng.choice(20, size=rng.integers(60, 300), p=c) for c in compositions]
    sequences = []
    for f in families:
        seq = ancestors[f].copy()
        hit = rng.random(len(seq)) < 0.05
        seq[hit] = rng.choice(20, size=int(hit.sum()), p=compositions[f])
        cut = len(seq) // 10
        seq = seq[rng.integers(cut + 1) : len(seq) - rng.integers(cut + 1)]
        sequences.append("".join(letters[seq]))
    accessions = [f"SYN{i:06d}" for i in range(n)]
    return Records(accessions, sequences, [texts[family_text[f]] for f in families]), families
