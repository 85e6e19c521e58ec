"""Studies as files: `studies/NAME.yaml` names a grid (tasks with their parameters and seeds, methods with
theirs, pair ratios), an optional tuning budget and the report to make; `python -m bench study run FILE`
tunes, runs and reports it under `<results>/studies/NAME/`, `study status FILE` says what is left.

- file.py: read and check a study file (one line naming the file and the key on any mistake)
- plan.py: the study's cells (per setting: tuned, defaults) and its tuning studies
- tuning.py: run each tuning study up to its budget (in this process, local processes, or SLURM)
- `study run` and `study status` are bench/cli/study.py
- report.py: the Markdown, LaTeX and HTML report of the study's cells
- cost.py: the GPU-hours of planned cells from the cost records of runs already made
"""
