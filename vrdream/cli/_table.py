"""The README's table of every flag, made from the parsers themselves (docs/make_flags.py writes it in;
a test checks the README still matches), so one flag has one name and one meaning everywhere."""

from __future__ import annotations

import argparse

from . import build_parser


def flag_table() -> str:
    """A markdown table: each flag (and its short form), its value, the commands that take it, what it does."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    first: dict[str, argparse.Action] = {}  # each flag as the first command that takes it defines it
    commands: dict[str, list[str]] = {}
    for command, p in sub.choices.items():
        for a in p._actions:
            if not a.option_strings or a.help == argparse.SUPPRESS or a.dest == "help":
                continue
            first.setdefault(a.option_strings[-1], a)
            commands.setdefault(a.option_strings[-1], []).append(command)
    lines = ["| flag | value | commands | meaning |", "|---|---|---|---|"]
    for flag in sorted(first, key=lambda f: f.lstrip("-").lower()):
        a = first[flag]
        names = ", ".join(f"`{o}`" for o in a.option_strings)
        value = f"`{a.metavar}`" if a.metavar else ""
        meaning = str(a.help).replace("|", "\\|")
        lines.append(f"| {names} | {value} | {' '.join(commands[flag])} | {meaning} |")
    return "\n".join(lines) + "\n"
