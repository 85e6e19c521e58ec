"""`tune --show`: a study's trials, best trial and parameter importances, and optuna's plots."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from bench.tune.study import StudyConfig, open_study

PLOTS = ("optimization_history", "param_importances", "intermediate_values", "slice")


def show(cfg: StudyConfig) -> list[str]:
    """Lines describing the study; its plots are written to studies/<name>/ (the lines say where)."""
    study = open_study(cfg)
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    setup = f"{cfg.method} on {cfg.task} at r={cfg.pair_ratio:g}"
    lines = [f"study {cfg.name}: {setup}; {len(study.trials)} trials ({states})"]
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    if not complete:
        return [*lines, "no completed trial yet"]
    best = study.best_trial
    lines.append(
        f"best: trial {best.number}, val_{cfg.metric} = {best.value:.4g}, run {best.user_attrs.get('run_id')}"
    )
    lines += [f"  {k} = {v!r}" for k, v in best.params.items()]
    lines.append("importances: " + importances(study))
    folder = plots(study, cfg.path.with_suffix(""))
    lines.append(f"plots: {folder}")
    return lines


def importances(study: optuna.Study) -> str:
    """optuna's parameter importances, or why there are none (too few trials says so in a warning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            found = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError) as err:
            return f"not available ({err})"
    if any("too small" in str(w.message) for w in caught):
        return "not available (too few trials)"
    return ", ".join(f"{k} {v:.2f}" for k, v in found.items())


def plots(study: optuna.Study, folder: Path) -> Path:
    """optuna's matplotlib plots as PNG files; a plot the study cannot give yet is skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    folder.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ax = getattr(vis, f"plot_{name}")(study)
            except (RuntimeError, ValueError):
                continue
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
        fig.savefig(folder / f"{name}.png", bbox_inches="tight")
        plt.close(fig)
    return folder
