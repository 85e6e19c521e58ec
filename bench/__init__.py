"""gentle-bench: the harness. Nothing here knows a loss or a dataset; see methods/ and tasks/."""
