"""User-facing errors: one line, naming the file and the problem.

Anything raised as a :class:`VrdreamError` is printed by the CLI as a single
line and exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args


class VrdreamError(Exception):
    """A problem the user can fix (bad input, missing weights, bad option)."""

    exit_code = 2


class InputError(VrdreamError):
    """A bad input file; the message always names the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def check_choice(name: str, value: object, choices: object) -> None:
    """Refuse ``value`` unless it is one of the ``Literal`` type ``choices``' values.

    Called once where a string mode enters (a settings dataclass, a public function); past that
    point its ``Literal`` type carries it and nothing compares it against a list again.
    """
    accepted = get_args(choices)
    if value not in accepted:
        raise VrdreamError(f"{name} {value!r}: must be one of {', '.join(map(str, accepted))}")
