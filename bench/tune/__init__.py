"""Hyperparameter search with optuna: `python -m bench tune` (README, "Tuning")."""
