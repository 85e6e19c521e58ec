"""`python -m bench` (also the `bench` console script, which exits the usual way)."""

from bench.cli.fastexit import exit_now
from bench.cli.main import main

if __name__ == "__main__":
    exit_now(main())
