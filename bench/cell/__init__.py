"""A cell's life, from the grid to its results: planning, run folders, running (in this process, a pool of
workers or ranks), states and collecting. Nothing here imports the command line (bench/cli/)."""
