"""Run every benchmark (``make bench``) or the ones named: ``python -m bench projection dream``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> None:
    here = Path(__file__).parent
    found = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in ("common", "__main__")]
    for name in names or sorted(found):
        print(f"== bench/{name}.py", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
