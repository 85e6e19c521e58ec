"""The vl task: cells of each encoder and mode run to `done` on generated images (and on a small
Fashion-MNIST subset where Debian's files are installed), its metrics agree with a plain reference,
its contamination guard refuses a test image that is a train image, and its rules refuse in one line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from bench import registry
from bench.cell.execute import execute
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.cli.main import main
from bench.errors import BenchError
from tasks.metrics import class_embeddings
from tasks.vl import features, sources
from tasks.vl.evaluate import positives, recalls

FASHION = Path("/usr/share/datasets/fashion-mnist")
SMALL = {"source": "synthetic:32", "captions_per_image": 2, "tower_width": 32, "eval_batch": 64}
SHORT = {"steps": 4, "batch_size": 8, "checkpoint_every": 0}
TINY_CLIP = {"encoder": "rs-tiny", "pretrained": "none", "n_views": 2}


def run_cell(tmp_path, method: str = "gentle_clip", **params):
    """One cell of `method` on vl with `params` (over SMALL and SHORT): its folder, after execute."""
    entry = registry.tasks().get("vl")
    p = entry.resolve({k: str(v) for k, v in {**SMALL, **SHORT, **params}.items()})
    spec = RunSpec(method, "vl", 0.5, 0, 0, registry.methods().get(method).resolve({}), p)
    folder = Store(tmp_path / "results").create(spec, spec.run_id())
    assert execute(folder) == "done", folder.status().get("error")
    return folder


def check_metrics(folder, zero_shot: bool = True) -> dict:
    metrics = folder.metrics()
    assert 0 <= metrics["recall_mean"] <= 1 and math.isfinite(metrics["recall_mean"])
    for k in (1, 5, 10):
        assert 0 <= metrics[f"a2b_r{k}"] <= 1 and 0 <= metrics[f"b2a_r{k}"] <= 1
    assert ("zs_top1" in metrics and "zs_mpcr" in metrics and "zs_top5" in metrics) == zero_shot
    test = folder.status()["data"]["eval_sets"]["test"]
    assert test["split"] == "test" and test["size"] > 0 and test["overlap"] == 0
    return metrics


@pytest.mark.parametrize(
    "params",
    [
        {"encoder": "cnn"},
        {**TINY_CLIP, "mode": "frozen"},
        {**TINY_CLIP, "mode": "finetune"},
        {"encoder": "released", "pretrained": "none", "image_size": 32, "mode": "frozen", "n_views": 2},
        {"encoder": "released", "pretrained": "none", "image_size": 32},
    ],
    ids=["cnn", "rs-tiny-frozen", "rs-tiny-finetune", "released-frozen", "released-finetune"],
)
def test_each_encoder_and_mode_runs_a_cell_on_synthetic_images(tmp_path, params):
    check_metrics(run_cell(tmp_path, **params))


def test_a_validation_split_is_scored_on_train_items(tmp_path):
    metrics = run_cell(tmp_path, method="clip", val_fraction=0.25).metrics()
    assert 0 <= metrics["val_recall_mean"] <= 1 and "val_zs_top1" not in metrics


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_a_cell_on_a_fashion_mnist_subset(tmp_path):
    folder = run_cell(tmp_path, source="debian:fashion-mnist:300", n_test=100, captions_per_image=5)
    check_metrics(folder)
    assert folder.status()["data"]["eval_sets"]["test"]["size"] == 100


def test_the_data_command_prepares_the_data_and_prints_its_counts(capsys):
    """`python -m bench data vl` (docs/usage.md), on generated images: N train images, max(10, N // 4)
    test ones."""
    argv = ["data", "vl", *(a for k, v in SMALL.items() for a in ("--task-param", f"{k}={v}"))]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == ["n_train: 32", "n_test: 10", "test_overlap: 0"]


def test_frozen_features_are_cached_and_hold_the_views(tmp_path):
    p = (
        registry.tasks()
        .get("vl")
        .resolve({k: str(v) for k, v in {**SMALL, **TINY_CLIP, "mode": "frozen"}.items()})
    )
    first, again = features.frozen(p), features.frozen(p)
    assert first["train_a"].shape[:2] == (32, 3) and first["train_b"].shape[:2] == (32, 2)
    every = torch.arange(32)
    assert torch.equal(first["train_a"].take(every), again["train_a"].take(every))
    assert first["about"] == again["about"]
    assert len(list((tmp_path / "cache").glob("vl-features-*"))) == 1


def test_frozen_train_features_do_not_depend_on_the_shard_size(tmp_path, monkeypatch):
    """Shards of 8 images (batches of 4) hold the numbers one shard of all 32 holds."""
    raw = {**SMALL, **TINY_CLIP, "mode": "frozen"}
    p = registry.tasks().get("vl").resolve({k: str(v) for k, v in raw.items()})
    monkeypatch.setattr(features, "BATCH", 4)
    whole = features.frozen(p)["train_a"]
    monkeypatch.setattr(features, "SHARD", 8)
    cut = features.frozen(p)["train_a"]
    assert len(whole.parts) == 1 and len(cut.parts) == 4
    every = torch.arange(32)
    assert torch.equal(whole.take(every), cut.take(every))
    assert not torch.equal(whole.take(every)[:, 1], whole.take(every)[:, 2])  # two different views


def _task(**params):
    entry = registry.tasks().get("vl")
    return entry.create(entry.resolve({k: str(v) for k, v in {**SMALL, **params}.items()}))


def test_paired_rows_with_the_same_drawn_caption_text_are_positives_of_each_other():
    """Template captions repeat: b_ids are the text ids of every caption (N, m); a step draws one caption
    per row, and same_b marks two paired rows positive exactly when their drawn captions are one string."""
    from bench.engine.batches import BatchSampler, batch_shape
    from bench.engine.embed import same_b
    from bench.engine.loader import make_inputs, needed
    from bench.engine.split import make_split

    task = _task(source="synthetic:40", captions_per_image=2)
    data = task.load()
    assert torch.equal(data.b_ids, data.eval["train_text_ids"]) and data.b_ids.shape == (40, 2)
    strings = features.texts(features.read(task.p))["train_b"]
    split = make_split(len(data), 1.0, 0)
    sampler = BatchSampler(split, batch_shape(split, 16, 1.0), 0)
    need = needed(frozenset({"a_p", "b_p"}), "two")
    marked = 0
    for step in range(1, 6):
        idx = sampler.next()
        inputs = make_inputs(task, data, idx, step, 0, need)
        drawn = [
            next(strings[2 * i + j] for j in range(2) if torch.equal(inputs.b_p[r], data.train_b[i, j]))
            for r, i in enumerate(idx[0].tolist())
        ]
        same = same_b(inputs, torch.device("cpu"))
        assert same.tolist() == [[a == b for b in drawn] for a in drawn]
        marked += int(same.sum()) - len(drawn)
    assert marked > 0  # 10 classes, 8 templates: some rows of a batch share a caption
    assert _task(source="synthetic:40", same_text_positives=False).load().b_ids is None


def reference_recall(scores: torch.Tensor, positive: torch.Tensor, k: int) -> float:
    """Recall@k, query by query: 1 when a positive is among the k highest scores."""
    hits = 0
    for row, pos in zip(scores.tolist(), positive.tolist(), strict=True):
        order = sorted(range(len(row)), key=lambda j: -row[j])
        hits += any(pos[j] for j in order[:k])
    return hits / len(scores)


def test_perfect_alignment_scores_one_and_random_embeddings_about_k_over_n():
    n, m = 50, 3
    za = F.normalize(torch.randn(n, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    owner = torch.arange(n).repeat_interleave(m)
    assert recalls(za, za[owner], owner, torch.arange(n * m)) == dict.fromkeys(
        ["a2b_r1", "a2b_r5", "a2b_r10", "b2a_r1", "b2a_r5", "b2a_r10", "recall_mean"], 1.0
    )
    n = 400
    gen = torch.Generator().manual_seed(1)
    za, zb = (F.normalize(torch.randn(n, 32, generator=gen), dim=-1) for _ in range(2))
    out = recalls(za, zb, torch.arange(n), torch.arange(n))
    positive = torch.eye(n, dtype=torch.bool)
    for k in (1, 5, 10):
        assert out[f"a2b_r{k}"] == pytest.approx(reference_recall(za @ zb.T, positive, k))
        assert out[f"b2a_r{k}"] == pytest.approx(reference_recall(zb @ za.T, positive, k))
        assert abs(out[f"a2b_r{k}"] - k / n) < 0.03
    assert out["recall_mean"] == pytest.approx(sum(v for key, v in out.items() if key != "recall_mean") / 6)


def test_an_identical_caption_of_another_image_is_a_positive_too():
    owner, text_ids = (
        torch.tensor([0, 0, 1, 1, 2]),
        torch.tensor([7, 3, 3, 5, 9]),
    )  # image 0 and 1 share text 3
    expected = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 1]]
    assert positives(owner, text_ids, 3).tolist() == [[bool(v) for v in row] for row in expected]
    za = torch.eye(3)
    zb = torch.eye(3)[
        torch.tensor([2, 2, 0, 1, 2])
    ]  # image 0's captions nearest image 2, caption 2 nearest 0
    out = recalls(za, zb, owner, text_ids)
    # a2b over the distinct texts 7, 3, 5, 9 (captions 0, 1, 3, 4): image 2 ranks text 7 (image 0's) first
    assert out["a2b_r1"] == pytest.approx(2 / 3) and out["a2b_r5"] == 1
    assert out["b2a_r1"] == pytest.approx(3 / 5)  # captions 2 (its text is image 0's too), 3 and 4


def test_class_embeddings_average_the_templates_of_each_class():
    prompts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 3.0]])  # 2 templates × 2 classes
    classes = class_embeddings(prompts, 2)
    assert torch.allclose(classes, F.normalize(torch.tensor([[2.0, 1.0], [0.0, 4.0]]), dim=-1))


@pytest.mark.parametrize("policy, size", [("refuse", None), ("exclude", 3), ("allow", 4)])
def test_a_test_image_that_is_a_train_image_is_refused_excluded_or_allowed(monkeypatch, policy, size):
    gen = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8, generator=gen)
    test = torch.cat([train[2:3], torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8, generator=gen)])

    def load(p):
        split = sources.VLSplit
        caps = [[f"a photo {i}", f"a picture {i}"] for i in range(6)]
        return sources.VLData(split(train, caps, [0] * 6), split(test, caps[:4], [0] * 4), ["shirt"], {})

    monkeypatch.setattr(sources, "load", load)
    p = {**registry.tasks().get("vl").resolve({}), "contamination": policy}
    if size is None:
        with pytest.raises(BenchError, match=r"^task vl: 1 of the 4 items of evaluation set test"):
            features.read(p)
        return
    raw = features.read(p)
    assert raw.about["eval_sets"]["test"] == {
        "source": p["source"],
        "split": "test",
        "size": size,
        "overlap": 1,
        "excluded": 4 - size,
    }
    assert len(raw.test.images) == len(raw.test.captions) == len(raw.test.labels) == size


@pytest.mark.parametrize(
    "params, message",
    [
        ({"mode": "frozen"}, "encoder=cnn starts from random weights"),
        ({**TINY_CLIP, "mode": "frozen", "n_views": 1}, "n_views must be at least 2"),
        ({**TINY_CLIP, "image_size": 64}, "image_size applies to encoder=cnn and released"),
        ({"source": "nowhere:x"}, "source='nowhere:x'"),
    ],
)
def test_bad_combinations_are_refused_in_one_line(params, message):
    entry = registry.tasks().get("vl")
    with pytest.raises(BenchError, match=f"^task vl: {message}") as err:
        entry.create(entry.resolve({k: str(v) for k, v in params.items()}))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "source, n_train, size",
    [
        ("synthetic:40", 30, 40),  # the source's size replaces n_train
        ("synthetic:40", 0, 40),
        ("debian:fashion-mnist", 10_000, 10_000),
        ("debian:fashion-mnist:300", 10_000, 300),
        ("local:/nowhere", 10_000, None),
    ],
)
def test_the_pool_size_is_known_for_generated_and_fashion_sources(source, n_train, size):
    entry = registry.tasks().get("vl")
    assert entry.create(entry.resolve({"source": source, "n_train": str(n_train)})).pool_size() == size
