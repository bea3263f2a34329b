"""The README's table of every flag, made from the parsers themselves (docs/make_flags.py writes it in;
a test checks the README still matches), so one flag has one name and one meaning everywhere."""

from __future__ import annotations

import argparse

from . import build_parser


def flag_table() -> str:
    """A markdown table: each flag (and its short form), its value, the commands that take it, what it does."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    rows: dict[str, dict[str, object]] = {}
    for command, p in sub.choices.items():
        for a in p._actions:
            if not a.option_strings or a.help == argparse.SUPPRESS or a.dest == "help":
                continue
            row = rows.setdefault(
                a.option_strings[-1],
                {
                    "names": ", ".join(f"`{o}`" for o in a.option_strings),
                    "value": a.metavar,
                    "commands": [],
                    "help": a.help,
                },
            )
            row["commands"].append(command)  # type: ignore[union-attr]
    lines = ["| flag | value | commands | meaning |", "|---|---|---|---|"]
    for _, row in sorted(rows.items(), key=lambda kv: kv[0].lstrip("-").lower()):
        value = f"`{row['value']}`" if row["value"] else ""
        commands = " ".join(row["commands"])  # type: ignore[arg-type]
        meaning = str(row["help"]).replace("|", "\\|")
        lines.append(f"| {row['names']} | {value} | {commands} | {meaning} |")
    return "\n".join(lines) + "\n"
