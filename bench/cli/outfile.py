"""The `--out` file of `table`, `plot` and `report`: its folder is created, and a path that cannot be
written, or a figure name without an image format, is one BenchError line before the work is done."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.errors import BenchError


def figure_formats() -> list[str]:
    """The image formats matplotlib writes (png, pdf, svg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_figure_name(path: Path) -> None:
    formats = figure_formats()
    if path.suffix.lstrip(".").lower() not in formats:
        shown = ", ".join("." + f for f in formats)
        raise BenchError(f"--out {path}: a figure needs the suffix of an image format ({shown})")


def writable(path: Path) -> Path:
    """`path`, its folder created and proven writable; a folder, or a place that cannot be written, is a
    BenchError that says so."""
    if path.is_dir():
        raise BenchError(f"--out {path}: is a folder; give a file name in it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".probe"):
            pass
    except OSError as err:
        raise BenchError(f"--out {path}: cannot write there ({err.strerror}); choose another path") from None
    return path
