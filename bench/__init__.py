"""Benchmarks: each ``bench/<name>.py`` has ``main()`` writing ``bench/results/<name>.json`` and ``.md``."""
