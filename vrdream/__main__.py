# ``python -m vrdream`` is the console script: the same allocator re-run for commands that run a network.
from .cli import entry

entry()
