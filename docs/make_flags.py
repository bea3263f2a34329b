"""Write the table of every flag into README.md between its ``<!-- flags -->`` markers (from the parsers)."""

from __future__ import annotations

import re
from pathlib import Path

from vrdream.cli._table import flag_table

README = Path(__file__).resolve().parent.parent / "README.md"
MARKERS = re.compile(r"(<!-- flags -->\n).*?(<!-- /flags -->)", re.S)


def main() -> None:
    text = README.read_text()
    if not MARKERS.search(text):
        raise SystemExit("README.md has no <!-- flags --> ... <!-- /flags --> markers")
    README.write_text(MARKERS.sub(lambda m: m[1] + flag_table() + m[2], text))


if __name__ == "__main__":
    main()
