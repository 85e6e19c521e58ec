"""Bad input to the protein task: one clear BenchError line each, and nothing left in the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import apt
from bench.errors import BenchError
from tasks import hub
from tasks.protein import Protein, debian, sources
from tasks.protein.validate import accession_of, read_fasta, read_tsv

GOOD_FASTA = ">sp|P00001|ONE_HUMAN first\nMKVLAAGIVG\nLLLAW\n>P00002 second\nACDEFGHIKL\n"
GOOD_TSV = "accession\ttext\nP00001\tATP binding\nP00002\tDNA binding\n"


@pytest.fixture(autouse=True)
def _cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def _local(tmp_path: Path, fasta: str | bytes, tsv: str = GOOD_TSV) -> str:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    if isinstance(fasta, bytes):
        (folder / "proteins.fasta").write_bytes(fasta)
    else:
        (folder / "proteins.fasta").write_text(fasta)
    (folder / "texts.tsv").write_text(tsv)
    return f"local:{folder}"


def _fails(spec: str, *patterns: str) -> str:
    with pytest.raises(BenchError) as err:
        Protein(source=spec, split="random", n_train=2, n_test=1).prepare()
    message = str(err.value)
    assert "\n" not in message
    for pattern in patterns:
        assert pattern in message, message
    return message


def _cache_is_clean(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    leftovers = [p.name for p in root.iterdir() if not p.name.endswith(".lock")] if root.exists() else []
    assert leftovers == []


def test_accession_parsing():
    assert accession_of("sp|P12345|NAME_HUMAN desc") == "P12345"
    assert accession_of("B0RED7|GO:0046933,GO:0046933") == "B0RED7"
    assert accession_of("Q9XYZ1 some protein") == "Q9XYZ1"


def test_good_local_files_are_read(tmp_path):
    spec = _local(tmp_path, GOOD_FASTA)
    accessions, sequences = read_fasta(Path(spec[6:]) / "proteins.fasta")
    assert accessions == ["P00001", "P00002"] and sequences == ["MKVLAAGIVGLLLAW", "ACDEFGHIKL"]
    assert read_tsv(Path(spec[6:]) / "texts.tsv") == {"P00001": "ATP binding", "P00002": "DNA binding"}


@pytest.mark.parametrize(
    "fasta, patterns",
    [
        ("", ("has no entries",)),
        ("\n\n", ("has no entries",)),
        (b"\x1f\x8b\x08\x00\xff\xfe binary", ("not a UTF-8 text file", "compressed or corrupt")),
        ("MKVLAAGIVG\n>P00001\nMKV\n", ("does not start with a '>' header", "line 1")),
        (">P00001\n>P00002\nACDEF\n", ("'P00001' has no sequence",)),
        (">P00001\nMKV1LA\n>P00002\nACD\n", ("'1' at position 4", "outside the amino-acid alphabet")),
        (">P00001\nMKVLA*\n>P00002\nACD\n", ("'*' at position 6",)),
        (">P00001\nMKV\n>P00001\nACD\n", ("appears twice",)),
    ],
)
def test_bad_fasta(tmp_path, fasta, patterns):
    _fails(_local(tmp_path, fasta), "proteins.fasta", *patterns)
    _cache_is_clean(tmp_path)


def test_tsv_matching_no_sequence(tmp_path):
    spec = _local(tmp_path, GOOD_FASTA, "Q99999\tATP binding\nQ99998\tkinase activity\n")
    _fails(spec, "none of the 2 accessions", "'Q99999'", "'P00001'")
    _cache_is_clean(tmp_path)


@pytest.mark.parametrize(
    "tsv, pattern",
    [
        ("", "has no rows"),
        ("P00001 ATP binding\n", "line 1: expected 'accession<TAB>text'"),
        ("P00001\t\n", "line 1"),
    ],
)
def test_bad_tsv(tmp_path, tsv, pattern):
    _fails(_local(tmp_path, GOOD_FASTA, tsv), "texts.tsv", pattern)
    _cache_is_clean(tmp_path)


def test_missing_local_files(tmp_path):
    _fails(f"local:{tmp_path / 'nowhere'}", "does not exist", "proteins.fasta", "texts.tsv")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "proteins.fasta").write_text(GOOD_FASTA)
    _fails(f"local:{tmp_path / 'half'}", "lacks texts.tsv")


@pytest.mark.parametrize(
    "spec", ["debian:other", "hf:noslash", "ftp:x", "synthetic:0", "debian:metastudent:x"]
)
def test_malformed_source(spec):
    with pytest.raises(BenchError, match="source|Debian source"):
        Protein(source=spec)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_crops", 1),
        ("identity", 0.0),
        ("crop_min", 1.5),
        ("n_train", -1),
        ("zs_classes", 1),
        ("split", "x"),
    ],
)
def test_bad_parameters(param, value):
    with pytest.raises(BenchError, match=param):
        Protein(source="synthetic", **{param: value})


def test_missing_debian_package_without_root(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "_files_present", lambda: False)
    monkeypatch.setattr(apt, "missing", lambda packages: list(packages))
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    _fails("debian:metastudent", "sudo apt-get install", "metastudent-data", "ncbi-blast+", "local:DIR")
    _cache_is_clean(tmp_path)


def test_unreachable_hub_is_a_clear_error(monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(hub, "_located", {})
    with pytest.raises(BenchError, match="cannot download hf:nobody/no-such-dataset.*hf:/path/to/folder"):
        sources.load("hf:nobody/no-such-dataset")


def test_hub_columns_are_found_by_name():
    records = sources.records_from_columns(
        {"uniprot_id": ["P1", "P2"], "sequence": ["mkv", "ACD"], "text": ["kinase", " "]}, "x/y"
    )
    assert records.accessions == ["P1"] and records.sequences == ["MKV"] and records.texts == ["kinase"]
    with pytest.raises(BenchError, match="no text column"):
        sources.records_from_columns({"id": ["P1"], "seq": ["MKV"], "other": ["t"]}, "x/y")
