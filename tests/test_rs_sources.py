"""rs sources: each default repository's real layout, as a local folder, read through `hf:/folder` with
S-CLIP's split; split names and their aliases; the one-line errors of the layouts that cannot be read."""

import hashlib
import io
import re
import zipfile
from pathlib import Path

import datasets
import pytest
import rs_files

from bench.errors import BenchError
from tasks.rs import RemoteSensing, data, sources


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return rs_files.build(tmp_path_factory.mktemp("rs"))


# every set with its S-CLIP split: (items, first class names) of what it reads
SCLIP = {
    "rsicd": (rs_files.RSICD_SPLITS["valid"], None),
    "ucm": (rs_files.KARPATHY_SPLITS["val"], None),
    "sydney": (rs_files.KARPATHY_SPLITS["val"], None),
    "rsicd_cls": (rs_files.DANIEL_SPLITS["val"], list(rs_files.LAND_COVER)),
    "ucm_cls": (4 * len(rs_files.UCM_CLASSES), list(rs_files.UCM_CLASSES)),
    "whu_rs19": (2 * len(rs_files.WHU_CLASSES), list(rs_files.WHU_CLASSES)),
    "rsscn7": (2 * len(rs_files.RSSCN7_CLASSES), ["Grass", "Field", "Industry"]),
    "aid": (2 * len(rs_files.AID_CLASSES), list(rs_files.AID_CLASSES)),
}


def test_every_set_the_task_uses_by_default_has_a_default_source():
    """A default rs run with internet needs no source of its own: ucm (no hub copy) is left out of the
    default caption sets, and every default caption and zero-shot set names its hub repository."""
    p = {k: v.default for k, v in RemoteSensing.params.items()}
    used = [*p["datasets"].split(","), *p["zero_shot"].split(",")]
    assert "ucm" not in used and all(p[name].startswith("hf:") for name in used), used


@pytest.mark.parametrize("name", list(SCLIP))
def test_each_default_layout_reads_through_hf_folder_with_the_sclip_split(root, name):
    n, classes = SCLIP[name]
    split = sources.DEFAULT_SPLITS[name]
    if name in sources.CAPTION_SETS:
        got = sources.captions(name, f"hf:{root / name}", split)
        assert len(got.images) == n and [len(c) for c in got.captions] == [5] * n
    else:
        got = sources.classes(name, f"hf:{root / name}", split)
        assert len(got.images) == len(got.labels) == n and got.classes == classes
        assert set(got.labels) == set(range(len(classes)))
    assert len(set(got.images)) == n  # distinct images, each read whole
    assert sources.check(name, f"hf:{root / name}") is None


def test_local_dir_reads_by_the_same_layout_detection(root):
    hf = sources.classes("ucm_cls", f"hf:{root / 'ucm_cls'}", "all")
    assert sources.classes("ucm_cls", f"local:{root / 'ucm_cls'}", "all") == hf
    local = sources.captions("sydney", f"local:{root / 'sydney'}", "train")
    assert local == sources.captions("sydney", f"hf:{root / 'sydney'}", "train")


def test_the_train_pool_split_is_train_everywhere(root):
    sizes = {d: len(sources.captions(d, f"hf:{root / d}", "train").images) for d in sources.CAPTION_SETS}
    assert sizes == {"rsicd": 8, "ucm": 8, "sydney": 8}


def test_danielz01_has_no_test_split_and_says_which_it_has(root):
    source = f"hf:{root / 'rsicd_cls'}"
    message = (
        f"task rs: rsicd_cls ({source}) has no test split; it has: train, val; "
        "choose another with splits=rsicd_cls=<one of them>"
    )
    with pytest.raises(BenchError, match=f"^{re.escape(message)}$"):
        sources.classes("rsicd_cls", source, "test")
    everything = sources.classes("rsicd_cls", source, "all")
    assert len(everything.images) == sum(rs_files.DANIEL_SPLITS.values())


@pytest.mark.parametrize("split", ["val", "valid", "validation"])
def test_arampacha_valid_serves_val(root, split):
    got = sources.captions("rsicd", f"hf:{root / 'rsicd'}", split)
    first = 1000 + rs_files.RSICD_SPLITS["train"]  # the valid items follow the train items
    assert got.images[0] == rs_files.image(first, "JPEG") and got.captions[0] == rs_files.caption_texts(first)
    assert len(got.images) == rs_files.RSICD_SPLITS["valid"]


def test_sydney_zip_gives_each_split_with_five_captions(root):
    uid = 3000
    for split, n in rs_files.KARPATHY_SPLITS.items():
        got = sources.captions("sydney", f"hf:{root / 'sydney'}", split)
        assert got.images == [rs_files.image(uid + i, "TIFF") for i in range(n)]
        assert got.captions == [rs_files.caption_texts(uid + i) for i in range(n)]
        uid += n
    with pytest.raises(BenchError, match="has no dev split; it has: test, train, val;"):
        sources.captions("sydney", f"hf:{root / 'sydney'}", "dev")


def test_ucm_cls_all_is_every_image_and_a_split_is_its_list(root):
    source = f"hf:{root / 'ucm_cls'}"
    assert len(sources.classes("ucm_cls", source, "all").images) == 4 * len(rs_files.UCM_CLASSES)
    test = sources.classes("ucm_cls", source, "test")
    (number,) = rs_files.UCM_LISTS["test"]
    assert test.images == [rs_files.image(5000 + 4 * c + number, "TIFF") for c in range(3)]
    assert test.labels == [0, 1, 2] and test.classes == list(rs_files.UCM_CLASSES)
    assert len(sources.classes("ucm_cls", source, "validation").images) == 3
    with pytest.raises(BenchError, match="has no dev split; it has: all, test, train, val;"):
        sources.classes("ucm_cls", source, "dev")


def test_rsscn7_prefix_letters_are_stripped_and_only_there(tmp_path, root):
    assert sources.classes("rsscn7", f"hf:{root / 'rsscn7'}", "all").classes == ["Grass", "Field", "Industry"]
    assert sources.classes("aid", f"hf:{root / 'rsscn7'}", "all").classes == list(rs_files.RSSCN7_CLASSES)
    rs_files.blanchon_image_folder(tmp_path / "mixed", ("aGrass", "river"), 9000)
    assert sources.classes("rsscn7", f"hf:{tmp_path / 'mixed'}", "all").classes == ["aGrass", "river"]


def test_a_class_folder_one_level_too_high_says_where_to_point(tmp_path):
    rs_files.class_folders(tmp_path / "UCMerced_LandUse" / "Images")
    source = f"local:{tmp_path / 'UCMerced_LandUse'}"
    images = tmp_path / "UCMerced_LandUse" / "Images"
    with pytest.raises(BenchError, match=rf"^[^\n]*hold no images but folders of images; point at {images}$"):
        sources.classes("aid", source, "all")
    assert len(sources.classes("aid", f"local:{images}", "all").images) == 6


def test_a_zip_with_an_unexpected_layout_lists_its_top_entries(tmp_path):
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as z:
        z.writestr("readme.txt", "flat images, no class folders")
        for i in range(3):
            z.writestr(f"img{i}.png", rs_files.image(9100 + i))
    for read in (sources.classes, sources.captions):
        with pytest.raises(
            BenchError, match=r"^[^\n]*top entries: img0.png, img1.png, img2.png, readme.txt\)"
        ):
            read("aid" if read is sources.classes else "sydney", f"hf:{tmp_path}", "all")


def test_a_table_without_the_needed_columns_names_them(tmp_path):
    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    rows = {"image": [{"bytes": rs_files.image(9200), "path": None}], "text": ["a river"]}
    (tmp_path / "data").mkdir()
    datasets.Dataset.from_dict(rows, features=features).to_parquet(tmp_path / "data" / "train-0.parquet")
    with pytest.raises(
        BenchError, match=r"^[^\n]*columns image, text; a caption set needs .* captions, sentences$"
    ):
        sources.captions("rsicd", f"hf:{tmp_path}", "train")
    with pytest.raises(BenchError, match=r"^[^\n]*columns image, text; a class set needs .*label column"):
        sources.classes("aid", f"hf:{tmp_path}", "all")


def lfs_pointers(folder: Path, suffix: str) -> Path:
    """The files of `folder` ending with `suffix` replaced by git-lfs pointer files, as a clone of the
    repository made without git-lfs has them."""
    for path in folder.rglob(f"*{suffix}"):
        content = path.read_bytes()
        oid = hashlib.sha256(content).hexdigest()
        path.write_text(
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(content)}\n"
        )
    return folder


def test_a_clone_without_git_lfs_is_one_line_naming_the_set_and_the_fix(tmp_path, root):
    """Pointer files instead of the parquet, the zips and the images: each read ends in one line that
    names the set and says to fetch the real files, never a traceback."""
    rsicd = lfs_pointers(rs_files.arampacha_rsicd(tmp_path / "rsicd"), ".parquet")
    with pytest.raises(
        BenchError, match=r"^task rs: rsicd \(hf:[^\n]*\): cannot read the table files of [^\n]*git lfs pull"
    ):
        sources.captions("rsicd", f"hf:{rsicd}", "val")
    sydney = lfs_pointers(rs_files.sydney_captions(tmp_path / "sydney"), ".zip")
    ucm = lfs_pointers(rs_files.torchgeo_ucmerced(tmp_path / "ucm_cls"), ".zip")
    for read, name, folder, zip_name in (
        (sources.captions, "sydney", sydney, "Sydney_captions.zip"),
        (sources.classes, "ucm_cls", ucm, "UCMerced_LandUse.zip"),
    ):
        with pytest.raises(
            BenchError,
            match=rf"^task rs: {name} [^\n]*: {zip_name} is not a readable zip \(BadZipFile[^\n]*git lfs",
        ):
            read(name, f"hf:{folder}", "train" if name == "sydney" else "all")
    rsscn7 = lfs_pointers(
        rs_files.blanchon_image_folder(tmp_path / "rsscn7", rs_files.RSSCN7_CLASSES, 7000), ".jpg"
    )
    assert len(sources.classes("rsscn7", f"hf:{rsscn7}", "all").images) == 6  # names read; pixels are not
    p = RemoteSensing(
        datasets="rsicd", rsicd=f"hf:{root / 'rsicd'}", zero_shot="rsscn7", rsscn7=f"hf:{rsscn7}"
    ).p
    with pytest.raises(
        BenchError, match=r"^task rs: rsscn7: image 1 of its all split cannot be decoded \([^\n]*git lfs pull"
    ):
        data.read(p)


def test_a_dataset_json_without_karpathy_fields_is_one_line(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "1.tif").write_bytes(rs_files.image(9300, "TIFF"))
    for text, reason in (("{}", "KeyError: 'images'"), ("not json", "JSONDecodeError")):
        (tmp_path / "dataset.json").write_text(text)
        with pytest.raises(
            BenchError, match=rf"^[^\n]*dataset.json is not a Karpathy dataset.json \({reason}[^\n]*sentences"
        ):
            sources.captions("ucm", f"hf:{tmp_path}", "train")


def test_a_missing_folder_and_a_malformed_source_are_one_line(tmp_path):
    with pytest.raises(
        BenchError, match=r"^task rs: ucm: local:/nonexistent is not a folder; set ucm=local:DIR"
    ):
        sources.captions("ucm", "local:/nonexistent", "train")
    with pytest.raises(BenchError, match="must be hf:<owner>/<name>"):
        sources.check("aid", "hf:a/b/c")
    with pytest.raises(BenchError, match="expected hf:<owner>/<name>, hf:/folder, local:DIR or synthetic"):
        sources.check("aid", "s3:bucket")


def test_identity_follows_the_files_of_a_local_folder(tmp_path):
    rs_files.whu_rs19(tmp_path / "whu")
    source = f"local:{tmp_path / 'whu'}"
    before = sources.identity("whu_rs19", source)
    assert before == {"folder": str(tmp_path / "whu"), "files": before["files"]}
    assert sources.identity("whu_rs19", source) == before
    (tmp_path / "whu" / "README.md").write_text("---\nlicense: cc-by-4.0\n---\nedited\n")
    assert sources.identity("whu_rs19", source) != before
    assert set(sources.identity("whu_rs19", f"hf:{tmp_path / 'whu'}")) == {"folder", "files"}


def test_identity_of_generated_data_follows_the_generator_code(tmp_path, monkeypatch):
    from tasks.rs import synthetic

    before = sources.identity("aid", "synthetic:8")
    assert before["source"] == "synthetic:8" and before == sources.identity("aid", "synthetic:8")
    edited = tmp_path / "synthetic.py"
    edited.write_text(Path(synthetic.__file__).read_text() + "# an edit\n")
    monkeypatch.setattr(synthetic, "__file__", str(edited))
    assert sources.identity("aid", "synthetic:8") != before


def test_every_fixture_image_is_distinct_in_pixels(root):
    from PIL import Image

    seen = []
    for name in sources.CAPTION_SETS:
        seen += [
            b for s in ("train", "val", "test") for b in sources.captions(name, f"hf:{root / name}", s).images
        ]
    for name in sources.ZS_SETS:
        seen += sources.classes(name, f"hf:{root / name}", "all").images
    pixels = {Image.open(io.BytesIO(b)).convert("RGB").tobytes() for b in seen}
    assert len(pixels) == len(seen)
