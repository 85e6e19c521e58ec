"""User-facing errors: one clear line, exit code 2, nothing written."""


class BenchError(Exception):
    """A mistake in what the user asked for; the CLI prints it as one line and exits with 2."""

    exit_code = 2
