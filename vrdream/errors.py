"""User-facing errors: one line, naming the file and the problem.

Anything raised as a :class:`VrdreamError` is printed by the CLI as a single
line and exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class VrdreamError(Exception):
    """A problem the user can fix (bad input, missing weights, bad option)."""

    exit_code = 2


class InputError(VrdreamError):
    """A bad input file; the message always names the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
