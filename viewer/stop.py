"""Stopping the live viewers with Ctrl-C (SIGINT) or SIGTERM: a request the frame loop honours.

Python's default Ctrl-C raises ``KeyboardInterrupt`` wherever the main thread happens to be:
inside a GLFW callback (which swallows it), or between two OpenXR calls of a frame (which leaves
the session running). Instead, while a viewer runs, the signals only set :class:`StopRequest`;
the loop sees it at the next frame, ends the OpenXR session the OpenXR way or closes the window,
tears down, and then :meth:`StopRequest.raise_if_stopped` reports it as Python does: a
``KeyboardInterrupt`` for Ctrl-C (the CLI's exit 130), ``SystemExit(128 + signal)`` otherwise.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

#: The signals that stop a viewer (SIGTERM: what ``kill`` and service managers send).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Which signal asked the viewer to stop (None: none yet). Calling it is the signal handler."""

    signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None = None) -> None:
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def raise_if_stopped(self) -> None:
        """After the tear-down: ``KeyboardInterrupt`` for SIGINT, ``SystemExit(128 + n)`` for another signal."""
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum is not None:
            raise SystemExit(128 + self.signum)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """A :class:`StopRequest` set by :data:`STOP_SIGNALS` while the block runs; the previous
    handlers come back afterwards. Handlers can only be set from the main thread: elsewhere the
    request is simply never set (the caller's own handling stays in charge)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
