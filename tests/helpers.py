"""Helpers for tests: build specs and run cells in-process on the fast synthetic task."""

import signal

from bench import registry
from bench.cell.spec import RunSpec
from bench.cell.store import Store
from bench.cell.sweep import plan, run_cells

from conftest import FAST


def spec(method: str = "clip", ratio: float = 0.1, seed: int = 0, **task_raw: str) -> RunSpec:
    m = registry.methods().get(method)
    t = registry.tasks().get("synthetic")
    return RunSpec(method, "synthetic", ratio, 0, seed, m.resolve({}), t.resolve({**FAST, **task_raw}))


def run(store: Store, specs: list[RunSpec], **kw) -> dict[str, str]:
    return run_cells(plan(store, specs), **kw)


def default_sigint() -> None:
    """A Popen `preexec_fn`: SIGINT to its default action in the child. A shell's background job starts
    with SIGINT ignored, and a Python started so never raises KeyboardInterrupt: the Ctrl-C tests would
    then test nothing but how the suite was launched."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
