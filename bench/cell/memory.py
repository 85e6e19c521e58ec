"""Peak memory of a stretch of work: resident memory sampled in a thread (CPU), allocator peak (CUDA)."""

from __future__ import annotations

import os
import resource
import threading

import torch

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """`with PeakMemory() as pm: ...`, then `pm.peak_mb`: the highest resident set size of this process
    seen every `interval` seconds during the block (or, on CUDA, the allocator's peak)."""

    def __init__(self, device: torch.device, interval: float = 0.05):
        self.device, self.interval = device, interval
        self.peak = 0
        self._stop = threading.Event()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> PeakMemory:
        self.peak = _rss_bytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20
