"""Progress bars with ETA on the terminal, silent when asked (``--quiet``)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress(total: int | None = None, desc: str = "", quiet: bool = False, unit: str = "it", **kw: Any) -> tqdm:
    """A tqdm bar writing to stderr; ``quiet`` disables it entirely."""
    return tqdm(total=total, desc=desc, disable=quiet, unit=unit, dynamic_ncols=True, leave=False, **kw)
