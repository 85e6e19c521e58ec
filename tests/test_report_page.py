"""The HTML report: its content, its links to run folders, and that it opens in headless Chromium cleanly.

The browser check drives Debian's `chromium` over the DevTools protocol on a pipe (--remote-debugging-pipe)
and collects uncaught exceptions, console errors and warnings, and failed loads; a broken page is checked
too, so that the check is known to catch them.
"""

import fcntl
import json
import math
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest

from bench.report import write_report

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# made-up methods: name → (label, order, ablation_of), as collect reads them from about.json
METHODS = {
    "base": ("Base", 10.0, None),
    "rival": ("Rival", 50.0, None),
    "ours": ("Ours", 60.0, None),
    "ours_no_a": ("Ours (no A)", 60.01, "ours"),
    "ours_no_b": ("Ours (no B)", 60.02, "ours"),
    "ours_no_c": ("Ours (no C)", 60.03, "ours"),
}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The report of two tasks × two ratios × three seeds; run folders exist under results/, some named
    by an absolute path. Written once for the module (it is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("report")
    rows = []
    for t, task in enumerate(["toy", "prot"]):
        for i, (method, (label, order, ablation_of)) in enumerate(METHODS.items()):
            for ratio in (0.01, 0.1):
                for seed in range(3):
                    failed = method == "rival" and seed == 2
                    run_id = f"{task}-{method}-{ratio}-{seed}"
                    folder = tmp_path / "results" / "runs" / run_id
                    folder.mkdir(parents=True)
                    value = math.nan if failed else 0.1 + 0.05 * i + ratio + seed / 100
                    rows.append(
                        {
                            "run_id": run_id,
                            "method": method,
                            "task": task,
                            "pair_ratio": ratio,
                            "split_seed": 0,
                            "seed": seed,
                            "state": "failed" if failed else "done",
                            "primary_metric": "a2b_r1" if task == "toy" else "zs_top1",
                            "run_dir": str(folder) if run_id.endswith("-0") else f"runs/{run_id}",
                            "a2b_r1": value,
                            "zs_top1": value / 2,
                            "ref_nn_a2b_r1": 0.05,
                            "wall_s": 60.0 * (1 + i),
                            "gpu_hours": 0.0,
                            "device": "cpu",
                            "git_commit": "abc1234",
                            "torch_version": "2.5.1",
                            "python_version": "3.11.2",
                            "host": f"node{t}",
                            "started_at": f"2025-01-0{1 + t}T10:00:00",
                            "finished_at": f"2025-01-0{1 + t}T11:00:00",
                            "method_label": label,
                            "method_order": order,
                            "method_ablation_of": ablation_of,
                            "method_control_of": None,
                            "task_label": {"toy": "Toy", "prot": "Protein"}[task],
                            "task_order": float(t),
                        }
                    )
    return write_report(pd.DataFrame(rows), tmp_path / "site" / "report.html", tmp_path / "results")


def test_report_content_and_links(page):
    text = page.read_text()
    for heading in ["Main table", "Ablation", "Figures", "All metrics", "Runs", "Provenance"]:
        assert f"<h2>{heading}</h2>" in text
    assert text.count('src="data:image/png;base64,') == 3
    assert "Not shown" not in text
    assert not re.search(r'(src|href)="(https?:)?//', text), "the page must not load anything from elsewhere"
    assert "abc1234 (72 runs)" in text and "node0 (36 runs)" in text and "node1 (36 runs)" in text
    assert "2025-01-01T10:00:00" in text and "2025-01-02T11:00:00" in text
    hrefs = re.findall(r'href="([^"]+)"', text)
    runs = [h for h in hrefs if "runs/" in h]
    assert runs and all(not h.startswith("/") for h in runs)
    for h in set(runs):
        assert (page.parent / unquote(h)).is_dir(), h
    # every finished cell of the main table links to each of its runs: 6 methods x 2 tasks x 2 ratios
    main = text.split("<h2>Main table</h2>")[1].split("<h2>")[0]
    assert main.count('<span class="runs">') == 24
    assert main.count("†2") == 4 and "Hard PL" not in main
    assert main.index("Toy (A→B R@1)") < main.index("Protein (Zero-shot top-1)")  # by task order
    assert [row.split("</th>")[0] for row in main.split('<th scope="row">')[1:]][:6] == [
        label for label, _, _ in METHODS.values()
    ]
    ablation = text.split("<h2>Ablation</h2>")[1].split("<h2>")[0]
    assert "Ablation of Ours" in ablation and "Base" not in ablation and "Rival" not in ablation
    details = re.findall(r"<summary>([^<]*)</summary>", text.split("<h2>All metrics</h2>")[1])
    assert details[:4] == ["Toy, r = 0.01", "Toy, r = 0.1", "Protein, r = 0.01", "Protein, r = 0.1"]


def test_report_of_a_bare_table(tmp_path):
    """Only the required columns and one metric: the sections that cannot be made say why."""
    df = pd.DataFrame(
        [
            {"method": m, "task": "toy", "pair_ratio": 0.1, "split_seed": 0, "seed": s, "state": "done"}
            | {"primary_metric": "a2b_r1", "a2b_r1": 0.1 * (i + 1) + s / 100}
            for i, m in enumerate(["base", "rival"])
            for s in range(2)
        ]
    )
    text = write_report(df, tmp_path / "r.html").read_text()
    assert "Not shown: no ablation in the results" in text
    assert (
        "Not shown: nothing to plot: no done run of the chosen tasks and methods has the metric and wall_s"
        in text
    )
    assert text.count('src="data:image/png;base64,') == 1
    assert "<strong>20.5 ± 0.7</strong>" in text and 'class="runs"' not in text
    assert "Not shown: the results table has no provenance columns." in text


def test_one_ablation_table_and_figure_per_method_with_ablations(tmp_path):
    entries = {"a": ("A", 1.0, None), "a_no_x": ("A (no X)", 1.01, "a"), "b": ("B", 2.0, None)}
    entries |= {"b_no_y": ("B (no Y)", 2.01, "b")}
    df = pd.DataFrame(
        [
            {"method": m, "task": "toy", "pair_ratio": 0.1, "split_seed": 0, "seed": s, "state": "done"}
            | {"primary_metric": "a2b_r1", "a2b_r1": 0.1 * (i + 1) + s / 100, "wall_s": 1.0}
            | {"method_label": label, "method_order": order, "method_ablation_of": of}
            for i, (m, (label, order, of)) in enumerate(entries.items())
            for s in range(2)
        ]
    )
    text = write_report(df, tmp_path / "r.html").read_text()
    ablation = text.split("<h2>Ablation</h2>")[1].split("<h2>")[0]
    assert ablation.count('<table class="results">') == 2
    assert ablation.index("Ablation of A:") < ablation.index("Ablation of B:")
    assert text.count('src="data:image/png;base64,') == 1 + 2 + 1  # ratio, two ablations, cost


def browse(url: str, expression: str, timeout: float = 60.0):
    """Open `url` in headless Chromium, evaluate `expression` after the load event.

    Returns (its value, problems): the uncaught exceptions, console errors/warnings and failed loads."""
    # Chromium reads commands from fd 3 and writes to fd 4; the pipe ends are first moved above fd 9 so
    # that placing one of them cannot overwrite the other
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    to_r, from_w = (_above_9(fd) for fd in (to_r, from_w))
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(to_r, 3), os.dup2(from_w, 4)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        devtools = DevTools(to_w, from_r, time.monotonic() + timeout)
        try:
            target = devtools.call("Target.createTarget", url="about:blank")["targetId"]
            session = devtools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                devtools.call(f"{domain}.enable", session)
            devtools.call("Page.navigate", session, url=url)
            devtools.wait("Page.loadEventFired")
            value = devtools.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
            devtools.call("Browser.close")
        finally:
            os.close(to_w)
            os.close(from_r)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return value["result"].get("value"), devtools.problems()


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class DevTools:
    """Null-separated JSON messages over the two pipes of --remote-debugging-pipe; events are kept."""

    def __init__(self, wfd: int, rfd: int, deadline: float):
        self.wfd, self.rfd, self.deadline = wfd, rfd, deadline
        self.buffer, self.last_id, self.events = b"", 0, []

    def call(self, method: str, session: str | None = None, **params):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.wfd, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self.last_id:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer["result"]
            self.events.append(answer)

    def wait(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._read())

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def problems(self) -> list[str]:
        out = []
        for event in self.events:
            method, p = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                out.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(p["entry"]["text"])
        return out


PAGE_FACTS = """({
  images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
  links: [...document.links].map(a => a.href),
  tables: document.querySelectorAll('table.results').length,
})"""


@needs_chromium
def test_report_opens_in_chromium_without_errors(page):
    facts, problems = browse(page.as_uri(), PAGE_FACTS)
    assert problems == []
    assert facts["images"] == [True, True, True]
    assert facts["tables"] == 2 + 4  # main, ablation, all metrics per (task, ratio)
    files = [Path(unquote(urlparse(h).path)) for h in facts["links"] if h.startswith("file:")]
    assert len(files) > 72 and all(f.is_dir() for f in files)


@needs_chromium
def test_browser_check_catches_a_broken_page(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><img src="missing.png">'
        '<script>console.error("logged"); throw new Error("thrown")</script></body></html>'
    )
    facts, problems = browse(bad.as_uri(), PAGE_FACTS)
    assert facts["images"] == [False]
    assert any("thrown" in p for p in problems) and "logged" in problems
    assert any("ERR_FILE_NOT_FOUND" in p for p in problems)
