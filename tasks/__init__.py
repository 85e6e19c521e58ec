"""Tasks: one file (or sub-package) per task: data sources, encoders, evaluation."""
