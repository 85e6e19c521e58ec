"""Hyperparameter search with optuna: `python -m bench tune` (docs/tuning.md, "Tuning (optuna)")."""
