"""Benchmarks: each ``bench/<name>.py`` has ``main()`` writing ``bench/results/<name>.json`` and ``.md``.

Importing this package re-runs the process under the allocator the ``vrdream`` command uses
(:func:`vrdream.cli.fast_allocator_env`), however a benchmark is started (``make bench``,
``python -m bench.speed``): torch's CPU speed differs about 2x between jemalloc and glibc's malloc
here, and a benchmark measures what a user's command runs.
"""

import os
import sys

from vrdream.cli import fast_allocator_env

_env = fast_allocator_env(dict(os.environ))
if _env is not None:
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], _env)
