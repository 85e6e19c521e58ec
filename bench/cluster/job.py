"""What a cluster job runs: one cell, in its run folder, resumable.

submitit pickles a `CellJob` by reference and the job unpickles it from its code snapshot. When the
scheduler warns the job of its time limit (or preempts it), submitit calls `checkpoint()`, requeues
the job and exits; the next start resumes from the run's last periodic checkpoint.pt, which ends
with the same metrics as a run that never stopped.

A job of several tasks (profile key `tasks_per_node`) runs the cell data-parallel, one rank per task:
each task exports the ranks torch reads (RANK = SLURM_PROCID, WORLD_SIZE = SLURM_NTASKS, LOCAL_RANK =
SLURM_LOCALID, MASTER_ADDR the job's first node, MASTER_PORT drawn from the job id: submitit's
TorchDistributedEnvironment) and computes on cuda:LOCAL_RANK; rank 0 writes the run folder
(bench/cell/execute.py) and every rank resumes from its checkpoint after a requeue.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from bench.cell import states
from bench.cell.execute import execute, now
from bench.cell.store import RunFolder


@dataclass(frozen=True)
class CellJob:
    """Run the cell in `folder` (absolute); `cwd` is the submitting directory (relative paths in the
    environment keep their meaning); `gpus` > 0 runs on CUDA, 0 on the CPU, None picks like an in-process
    run; `threads` caps torch's threads to the CPUs the job was given."""

    folder: str
    cwd: str
    force: bool = False
    gpus: int | None = None
    threads: int | None = None

    def __call__(self) -> str:
        """The cell's final state: done, failed or busy (another process runs it)."""
        import torch

        os.chdir(self.cwd)
        export_ranks()
        if self.threads:
            torch.set_num_threads(self.threads)
        device = None if self.gpus is None else torch.device("cuda" if self.gpus else "cpu")
        folder = RunFolder(self.folder)
        if self.gpus and not torch.cuda.is_available():
            return _no_gpu(folder, self.gpus)
        try:
            return execute(folder, force=self.force, device=device)
        except SystemExit:  # submitit's exit after checkpoint() and the requeue: not a failure
            folder.write_status(state=states.REQUEUED, requeued_at=now())
            raise

    def checkpoint(self) -> object:
        """Requeue this cell as it is; `force` is not repeated, or the rerun would discard the checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(dataclasses.replace(self, force=False))


def export_ranks() -> None:
    """In a job of several tasks, the torch.distributed environment of this task's rank (see above); nothing
    outside a submitit job (a CellJob called directly)."""
    import submitit

    try:
        tasks = submitit.JobEnvironment().num_tasks
    except RuntimeError:
        return
    if tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def _no_gpu(folder: RunFolder, gpus: int) -> str:
    """Record that the job got no usable GPU, rather than run on the CPU or fail somewhere inside torch."""
    import torch

    if not folder.lock.acquire():
        return states.BUSY
    try:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
        error = (
            f"RuntimeError: the job asked for {gpus} GPU(s) but torch {torch.__version__} sees none "
            f"(CUDA_VISIBLE_DEVICES={visible}, built for CUDA {torch.version.cuda})"
        )
        folder.write_status(state=states.FAILED, error=error, failed_at=now())
        folder.log(error)
        return states.FAILED
    finally:
        folder.lock.release()
