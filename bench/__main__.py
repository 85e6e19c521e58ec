"""`python -m bench` (also the `bench` console script, which exits the usual way)."""

from bench.cli import main
from bench.fastexit import exit_now

if __name__ == "__main__":
    exit_now(main())
