"""The command line: `python -m bench <command>` (main.py holds the table of commands); no module outside
this package imports it."""
