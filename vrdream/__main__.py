# ``python -m vrdream`` is the console script: the same allocator re-run for commands that dream.
from .cli import entry

entry()
