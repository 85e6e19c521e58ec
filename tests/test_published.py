"""Protocols in the tables: one per column, said in the legend; published reference rows shown where task,
metric, dataset, split and protocol match, never ranked; a bad reference file is refused in one line."""

import csv
import json

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import make_table, render
from bench.report import published as pub

ALL = {"protocol": "all_captions", "set": "rsicd", "split": "test", "queries": 1093, "gallery": 5465}
ONE = {"protocol": "one_caption", "set": "rsicd", "split": "test", "queries": 1093, "gallery": 1093}


def run(method, seed, value, record=ALL, **extra):
    return {
        "run_id": f"{method}-{seed}-{json.dumps(record)}",
        "method": method,
        "task": "rs",
        "pair_ratio": 0.1,
        "split_seed": 0,
        "seed": seed,
        "state": "done",
        "primary_metric": "rsicd_a2b_r1",
        "run_dir": f"runs/{method}-{seed}",
        "rsicd_a2b_r1": value,
        "rsicd_one_a2b_r1": value / 2,
        "protocol_rsicd_a2b_r1": json.dumps(record),
        "protocol_rsicd_one_a2b_r1": json.dumps(ONE),
        **extra,
    }


def runs(record=ALL):
    return pd.DataFrame(
        [run(m, s, v + s / 100, record) for m, v in (("clip", 0.2), ("ours", 0.3)) for s in range(3)]
    )


def write(tmp_path, rows):
    path = tmp_path / "published.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(pub.FIELDS)
        w.writerows(rows)
    return path


ROW = ["GeoRSCLIP", "rs", "rsicd", "test", "all_captions", "rsicd_a2b_r1", "22.14", "percent", "RS5M README"]


def test_the_repository_file_loads_and_every_row_has_a_source():
    rows = pub.load()
    assert len(rows) >= 14 and rows["source"].str.contains("om-ai-lab/RS5M").all()
    assert set(rows["protocol"]) == {"all_captions"} and rows["fraction"].between(0, 1).all()


def test_a_matching_row_is_an_italic_unranked_row_with_its_source(tmp_path):
    other = [*ROW[:3], "val", *ROW[4:]]  # another split: never shown
    rows = pub.load(write(tmp_path, [ROW, ["X", *ROW[1:6], "0.5", "fraction", "Y"], ["Z", *other[1:]]]))
    table = make_table(runs(), metric="rsicd_a2b_r1", published=rows)
    shown = {r.label: r for r in table.rows}
    assert shown["GeoRSCLIP (published)"].reference and shown["GeoRSCLIP (published)"].cells[0].mean == 22.14
    assert shown["X (published)"].cells[0].mean == 50.0 and "Z (published)" not in shown
    assert shown["GeoRSCLIP (published)"].cells[0].rank == 0
    text = render(table, "md")
    assert "| *GeoRSCLIP (published)* | 22.1 |" in text
    assert any("Source: RS5M README" in n for n in table.notes)
    assert not any(n.startswith("Italic rows: reference values") for n in table.notes)  # no ref_ rows
    assert any(n.startswith("rs, rsicd_a2b_r1: all_captions: set=rsicd, split=test") for n in table.notes)


def test_the_one_caption_column_never_shows_an_all_captions_row(tmp_path):
    rows = pub.load(write(tmp_path, [ROW]))
    table = make_table(runs(), metric="rsicd_one_a2b_r1", published=rows)
    assert not any(r.reference for r in table.rows)
    assert any("one_caption: set=rsicd" in n for n in table.notes)


def test_two_protocols_in_one_column_are_refused():
    mixed = pd.concat([runs(), runs({**ALL, "split": "val"}).assign(seed=lambda d: d["seed"] + 10)])
    with pytest.raises(BenchError, match="measured under 2 protocols") as err:
        make_table(mixed, metric="rsicd_a2b_r1")
    assert "\n" not in str(err.value) and "--where" in str(err.value)


def test_a_metric_the_task_does_not_compute_names_the_ones_it_has():
    df = pd.concat([runs(), pd.DataFrame([{**run("clip", 9, 0.1), "task": "vl", "recall_mean": 0.4}])])
    with pytest.raises(BenchError, match="task rs does not compute it") as err:
        make_table(df, metric="recall_mean")
    assert "its metrics: rsicd_a2b_r1, rsicd_one_a2b_r1" in str(err.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([*ROW[:4], "two_captions", *ROW[5:]], "unknown protocol 'two_captions'"),
        ([*ROW[:5], "rsicd_a2b_r2", *ROW[6:]], "protocol all_captions has no metric 'rsicd_a2b_r2'"),
        ([*ROW[:4], "one_caption", *ROW[5:]], "protocol one_caption has no metric 'rsicd_a2b_r1'"),
        ([*ROW[:6], "122", *ROW[7:]], "value '122' is not a number in [0, 100]"),
        ([*ROW[:8], ""], "empty source"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_and_row(tmp_path, row, message):
    path = write(tmp_path, [ROW, row])
    with pytest.raises(BenchError) as err:
        pub.load(path)
    assert str(err.value).startswith(f"published rows {path}, row 3: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_duplicate_row_is_refused(tmp_path):
    path = write(tmp_path, [ROW, [*ROW[:6], "21.0", *ROW[7:]]])
    with pytest.raises(BenchError, match=r"row 3: duplicates row 2"):
        pub.load(path)
