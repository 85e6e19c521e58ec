"""'Did you mean' hints for misspelt names."""

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix naming the closest known names, or '' when none is close."""
    matches = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""
