"""rs data: the old flat layouts, the no-data message, keywords, the views and the synthetic source."""

import re
from pathlib import Path

import pytest
import rs_files
import torch

from bench.cli.main import main
from bench.errors import BenchError
from tasks.rs import data, sources
from tasks.rs.images import ImagePool, augment
from tasks.rs.sources import ClassSet


def test_the_old_flat_layouts_still_read(tmp_path):
    rs_files.caption_parquet(tmp_path / "ucm" / "train.parquet", 8, 0)
    rs_files.caption_parquet(tmp_path / "ucm" / "val.parquet", 4, 50)
    rs_files.class_folders(tmp_path / "aid")
    split = sources.captions("ucm", f"local:{tmp_path / 'ucm'}", "val")
    assert len(split.images) == 4 and all(len(c) == 5 for c in split.captions)
    assert split.images[0] == rs_files.png(50)
    assert ImagePool(split.images, 16).take(torch.tensor([0, 3])).shape == (2, 3, 16, 16)
    zs = sources.classes("aid", f"local:{tmp_path / 'aid'}", "all")
    assert zs.classes == sorted(rs_files.CLASSES) and sorted(zs.labels) == [0, 0, 1, 1, 2, 2]


def test_no_data_offline_is_one_clear_line(capsys):
    assert main(["data", "rs", "--task-param", "datasets=rsicd", "--task-param", "zero_shot=rsicd_cls"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot download hf:arampacha/rsicd" in err and "hf:/path/to/folder" in err


def test_a_set_without_a_source_names_its_parameter():
    with pytest.raises(BenchError, match="ucm has no source; set ucm=hf:<repo> or ucm=local:DIR"):
        sources.captions("ucm", "", "train")
    with pytest.raises(BenchError, match="local:/nonexistent is not a folder"):
        sources.captions("ucm", "local:/nonexistent", "train")


def test_keywords_are_class_names_found_in_captions():
    raw = data.Raw(None, {}, {"aid": ClassSet([], [], ["denseResidential", "baseball_diamond", "River"])}, {})
    vocab = data.keywords(raw, "classes", 0)
    assert vocab == ["baseball diamond", "dense residential", "river"]
    mask = data.keyword_mask([["two rivers and a bridge"], ["a dense residential area"], ["a field"]], vocab)
    assert mask.tolist() == [[False, False, True], [False, True, False], [False, False, False]]
    assert data.prompts(raw.zero_shot["aid"], ["an aerial photograph of {c}."])[0] == (
        "an aerial photograph of dense residential."
    )


def test_image_views_differ_and_stay_in_range():
    images = (torch.arange(2 * 3 * 32 * 32) % 251).to(torch.uint8).view(2, 3, 32, 32)
    gen = torch.Generator().manual_seed(0)
    one, two = augment(images, gen), augment(images, gen)
    assert one.shape == (2, 3, 32, 32) and one.min() >= 0 and one.max() <= 1
    assert not torch.equal(one, two)
    again = augment(images, torch.Generator().manual_seed(0))
    assert torch.equal(one, again)


def test_inputs_keep_every_caption(tmp_path):
    from tasks import _openclip
    from tasks.rs import RemoteSensing, inputs

    root = rs_files.build(tmp_path)
    p = RemoteSensing(
        source=f"local:{root}", datasets="rsicd,ucm,sydney", encoder="rs-tiny", pretrained="none"
    ).p
    _, tokenize, size, _, _ = _openclip.build("rs-tiny", "none", "rs")
    raw = data.read(p)
    x = inputs.model_inputs(raw, tokenize, size, p)
    vocab = {data.class_text(c) for zs in raw.zero_shot.values() for c in zs.classes}
    assert x["train_b"].shape[:2] == (24, 5) and x["keyword_mask"].shape == (24, len(vocab))
    assert x["ret/sydney/texts"].shape[0] == 20 and x["ret/sydney/owner"].tolist() == sorted(
        list(range(4)) * 5
    )  # Sydney's val split: 4 items, 5 captions each
    assert x["zs/aid/prompts"].shape[0] == 3 and len(x["zs/aid/images"]) == 6


def _mean_colours(images: list[bytes]) -> torch.Tensor:
    return ImagePool(images, 16).take(torch.arange(len(images))).float().mean(dim=(2, 3))


def test_synthetic_source_scenes_follow_their_class_and_captions_name_it():
    from tasks.rs import synthetic

    train = sources.captions("ucm", "synthetic:64", "train")
    zs = sources.classes("aid", "synthetic:64", "all")
    assert len(train.images) == 64 and all(len(c) == synthetic.N_CAPTIONS for c in train.captions)
    assert zs.classes == list(synthetic.CLASSES) and len(zs.images) == 32
    assert sorted(set(zs.labels)) == list(range(len(synthetic.CLASSES)))  # every class appears
    names = [c.replace("_", " ") for c in synthetic.CLASSES]
    train_labels = []
    for caps in train.captions:
        named = {i for i, n in enumerate(names) if all(f" {n} " in f" {c[:-1]} " for c in caps)}
        assert len(named) == 1, caps  # every caption names the one class of its image
        train_labels.append(named.pop())
    # the scene follows the class: the nearest class-mean colour of the train images finds the label
    colour, labels = _mean_colours(train.images), torch.tensor(train_labels)
    present = sorted(set(train_labels))
    centres = torch.stack([colour[labels == c].mean(0) for c in present])
    guess = torch.tensor(present)[torch.cdist(_mean_colours(zs.images), centres).argmin(1)]
    seen = torch.isin(torch.tensor(zs.labels), guess.new_tensor(present))
    assert (guess[seen] == torch.tensor(zs.labels)[seen]).float().mean() >= 0.9


def test_synthetic_sets_and_splits_differ_but_repeat_exactly():
    a = sources.captions("rsicd", "synthetic:8", "train")
    assert a == sources.captions("rsicd", "synthetic:8", "train")
    assert a.images != sources.captions("sydney", "synthetic:8", "train").images
    test = sources.captions("rsicd", "synthetic:8", "test")
    assert len(test.images) == 2 and not set(test.images) & set(a.images)
    val = sources.captions("rsicd", "synthetic:8", "val")
    assert val == sources.captions("rsicd", "synthetic:8", "valid") and val.images != test.images
    assert len(sources.captions("rsicd", "synthetic", "train").images) == 100  # the default N


def test_source_synthetic_feeds_every_dataset_through_the_readers():
    from tasks.rs import RemoteSensing

    p = RemoteSensing(source="synthetic:12", datasets="rsicd,ucm,sydney", zero_shot="aid,rsscn7").p
    raw = data.read(p)
    assert len(raw.train.images) == 36 and set(raw.tests) == {"rsicd", "ucm", "sydney"}
    assert all(len(t.images) == 3 for t in raw.tests.values()) and set(raw.zero_shot) == {"aid", "rsscn7"}
    one = RemoteSensing(ucm="synthetic:4", aid="synthetic:4", datasets="ucm", zero_shot="aid").p  # generated
    assert len(data.read(one).train.images) == 4


@pytest.mark.parametrize("spec", ["synthetic:x", "synthetic:1", "synthetic:-3"])
def test_a_malformed_synthetic_source_is_one_line(spec):
    from tasks.rs import RemoteSensing

    with pytest.raises(BenchError, match=r"^task rs: .*write synthetic or synthetic:N with N ≥ 2[^\n]*$"):
        RemoteSensing(source=spec)
    with pytest.raises(BenchError, match="write synthetic or synthetic:N"):
        sources.captions("ucm", spec, "train")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "frozen", "n_views": 1}, "n_views must be at least 2 in frozen mode"),
        ({"datasets": "rsicd,coco"}, "datasets must name some of rsicd, ucm, sydney"),
        ({"datasets": "none"}, "datasets must name some of"),
        ({"zero_shot": "aid,imagenet"}, "zero_shot may name only"),
        ({"source": "hf:someone/rs"}, "source must be local:ROOT, synthetic"),
        ({"templates": "a photo of a place."}, "each with {c}"),
        ({"n_captions": 0}, "parameter n_captions=0 is outside its valid range [1, inf)"),
        ({"steps": 0}, "parameter steps=0 is outside its valid range [1, inf)"),
    ],
)
def test_check_refuses_combinations_that_cannot_work(params, message):
    from tasks.rs import RemoteSensing

    with pytest.raises(BenchError, match=f"^task rs: .*{re.escape(message)}"):
        RemoteSensing(**params)


def test_check_accepts_one_view_when_fine_tuning():
    from tasks.rs import RemoteSensing

    assert RemoteSensing(mode="finetune", n_views=1).p["n_views"] == 1


def test_the_fingerprint_of_generated_data_follows_the_generator_code(tmp_path, monkeypatch):
    from tasks.rs import RemoteSensing, synthetic

    p = RemoteSensing(source="synthetic:8", datasets="rsicd,ucm,sydney", zero_shot="aid").p
    before = data.fingerprint(p)
    assert set(before) == {"rsicd", "ucm", "sydney", "aid"} and before == data.fingerprint(p)
    edited = tmp_path / "synthetic.py"
    edited.write_text(Path(synthetic.__file__).read_text() + "# an edit\n")
    monkeypatch.setattr(synthetic, "__file__", str(edited))
    assert data.fingerprint(p) != before
