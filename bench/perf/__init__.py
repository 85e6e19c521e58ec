"""Benchmarks behind `python -m bench perf`: each measures the project's code against a plain reference
run side by side in the same process. Nothing here is part of any run's code version."""
