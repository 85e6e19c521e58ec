"""Run a study's tuning studies up to its budget, then save each one's preset.

The budget is `trials` trials that reached a verdict (completed or pruned) per method and task; a trial
whose run failed does not count, and a study gives up (no preset, its tuned cells not run) once `trials`
of its trials have failed. A call runs only what is missing, so an interrupted study resumes and a finished
one runs nothing; two calls on one results folder never exceed the budget (each study's round holds its
lock, `study_locks`, and the trials left are counted under it). The studies run in this process (one
job), as local processes, `jobs` at a time, each with its share of the cores, or as SLURM jobs through
`tune`'s launcher.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.cell.spec import ROOT
from bench.errors import BenchError


def trials_of(cfg) -> list:
    """The study's trials, read without writing anything (none when its journal does not exist yet); a
    journal that cannot be read is a CorruptFile naming it."""
    if "://" not in cfg.storage and not Path(cfg.storage).is_file():
        return []
    from bench.tune.study import read_study

    study = read_study(cfg)
    return [] if study is None else study.get_trials(deepcopy=False)


def counts(cfg) -> dict[str, int]:
    """Trials of the study by state: complete, pruned, fail, running."""
    out: dict[str, int] = {}
    for trial in trials_of(cfg):
        out[trial.state.name.lower()] = out.get(trial.state.name.lower(), 0) + 1
    return out


def seconds(cfg) -> float:
    """The summed duration of the study's finished trials."""
    return sum(t.duration.total_seconds() for t in trials_of(cfg) if t.duration is not None)


def left(cfg, trials: int) -> int:
    """Trials still to run: the budget less those with a verdict; 0 once `trials` of them have failed."""
    n = counts(cfg)
    if n.get("fail", 0) >= trials:
        return 0
    return max(0, trials - n.get("complete", 0) - n.get("pruned", 0))  # not a run state: optuna's


def check(study, configs: list) -> None:
    """Before anything is written: each tuning study's metric is one its task reports, and a study of the
    same name has the same setup (`tune`'s checks); a mistake names the file's `tune`."""
    from bench.cli.tune import check_studies

    try:
        check_studies(configs, rename="by saving the study file under a new name (it names its tuning)")
    except BenchError as err:
        raise BenchError(f"study {study.path}: tune: {err}") from None


def tune_all(configs: list, trials: int, jobs: int, cluster: str, profile, cluster_params) -> list[str]:
    """Bring every study to its budget (their setups checked first: `check`); one line per study that ran
    trials or lacks its preset."""
    from bench.cli.tune import finish
    from bench.tune.preset import preset_path

    ran = set()
    while todo := [cfg for cfg in configs if left(cfg, trials)]:
        with study_locks(todo):  # another `study run` tuning them: its round ends first, then recount
            now = [(cfg, n) for cfg in todo if (n := left(cfg, trials))]
            if not now:
                continue
            before = [counts(cfg) for cfg, _ in now]
            for cfg, _ in now:
                cfg.save()
            run_round(now, jobs, cluster, profile, cluster_params)
            ran |= {cfg.name for cfg, _ in now}
            if [counts(cfg) for cfg, _ in now] == before:
                raise BenchError(
                    "tuning made no progress: no trial of " + ", ".join(c.name for c, _ in now) + " ended"
                )
    lines = []
    for cfg in configs:
        if cfg.name in ran or not preset_path(Path(cfg.results), cfg.name).is_file():
            lines.append(finish(cfg, Path(cfg.results)))
    return lines


@contextlib.contextmanager
def study_locks(configs: list) -> Iterator[None]:
    """An exclusive flock on each study's `<results>/studies/NAME.lock`, taken in name order (two callers
    never wait on each other in a circle); a lock another process holds is waited for, said in one line.
    The kernel drops a lock when its process dies."""
    fds = []
    try:
        for cfg in sorted(configs, key=lambda c: c.name):
            cfg.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(cfg.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"study {cfg.name} is being tuned by another process: waiting for its round to end")
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)  # closing drops the lock


def run_round(todo: list, jobs: int, cluster: str, profile, cluster_params) -> None:
    if cluster == "slurm":
        from bench.tune.slurm import submit_workers

        for cfg, n in todo:
            submit_workers(cfg, [n], profile, cluster_params)
    elif cluster == "local" or jobs > 1:
        run_local(todo, jobs if cluster != "local" else len(todo))
    else:
        from bench.tune.study import work

        for cfg, n in todo:
            work(cfg, n)


def run_local(todo: list, jobs: int) -> None:
    """Each study's missing trials in a `tune_worker` process, `jobs` at a time, cores / jobs threads each."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONPATH": path}

    def one(item) -> tuple[int, Path]:
        cfg, n = item
        log = cfg.path.with_suffix(".workers.txt")
        with open(log, "ab") as out:
            argv = [sys.executable, "-m", "bench", "tune_worker", str(cfg.path), str(n)]
            return subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT).returncode, log

    with ThreadPoolExecutor(jobs) as pool:
        done = list(pool.map(one, todo))
    bad = [f"{log} (exit {code})" for code, log in done if code]
    if bad:
        raise BenchError(f"tuning workers failed; see {', '.join(bad)}")
