"""Stopping the live viewers: the OpenXR session's exit path against a fake runtime, the signal
handling, and Ctrl-C on the desktop window under Xvfb."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xr
from conftest import assert_ctrl_c_stops
from PIL import Image

from vrdream.viewer.stop import StopRequest, stop_on_signals
from vrdream.viewer.xr_logic import drive_session

S = xr.SessionState
REPO = Path(__file__).resolve().parents[1]


class FakeRuntime:
    """A runtime that walks a session to FOCUSED, then answers xrRequestExitSession with
    STOPPING and xrEndSession with IDLE, EXITING (as the OpenXR lifecycle says); ``calls`` logs
    what the viewer did, in order."""

    def __init__(self, answers_exit: bool = True) -> None:
        self.queue = [S.IDLE, S.READY]
        self.calls: list[str] = []
        self.answers_exit = answers_exit

    def next_state(self):
        return self.queue.pop(0) if self.queue else None

    def begin(self) -> None:
        self.calls.append("begin")
        self.queue += [S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED]

    def end(self) -> None:
        self.calls.append("end")
        self.queue += [S.IDLE, S.EXITING]

    def request_exit(self) -> None:
        self.calls.append("request-exit")
        if self.answers_exit:
            self.queue.append(S.STOPPING)

    def frame(self, state) -> None:
        self.calls.append(f"frame:{S(state).name}")

    def destroy(self) -> None:
        self.calls.append("destroy")


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_stop_mid_session_exits_the_openxr_way():
    """Ctrl-C while focused: request exit → (frames until) STOPPING → end → destroy, nothing after."""
    rt = FakeRuntime()
    stop = StopRequest()

    def frame(state) -> None:
        FakeRuntime.frame(rt, state)
        if rt.calls.count("frame:FOCUSED") == 3:
            stop(signal.SIGINT)  # the handler fires mid-session

    rt.frame = frame  # type: ignore[method-assign]
    drive_session(rt, lambda: stop.requested, max_frames=1000)
    assert rt.calls[0] == "begin"
    tail = rt.calls[rt.calls.index("request-exit") :]
    # the frame loop keeps going until STOPPING arrives (one more frame here), then ends and leaves
    assert tail == ["request-exit", "frame:FOCUSED", "end", "destroy"], rt.calls
    assert rt.calls.count("request-exit") == 1


def test_stop_before_the_session_runs_just_destroys():
    rt = FakeRuntime()
    rt.queue = [S.IDLE]  # the runtime has not said READY yet
    clock = FakeClock()
    drive_session(rt, lambda: True, clock=clock, sleep=clock.sleep)
    assert rt.calls == ["destroy"]


def test_stop_gives_up_on_a_runtime_that_never_says_stopping():
    """A runtime that ignores the exit request still lets the viewer go within the timeout."""
    rt = FakeRuntime(answers_exit=False)
    clock = FakeClock()

    def frame(state) -> None:
        FakeRuntime.frame(rt, state)
        clock.sleep(1 / 90)  # xrWaitFrame paces the loop

    rt.frame = frame  # type: ignore[method-assign]
    drive_session(rt, lambda: rt.calls.count("frame:FOCUSED") >= 2, clock=clock, sleep=clock.sleep, exit_timeout_s=0.5)
    assert rt.calls[-1] == "destroy" and "end" not in rt.calls
    assert 0.5 <= clock.t <= 0.6, "left at the timeout, not before and not much after"


def test_runtime_ending_the_session_is_followed_without_a_stop():
    rt = FakeRuntime()
    rt.request_exit()  # e.g. the user quit from the runtime's own menu: STOPPING arrives unasked
    rt.calls.clear()
    rt.queue = [S.READY]
    rt.begin = lambda: (rt.calls.append("begin"), rt.queue.extend([S.FOCUSED, S.STOPPING]))  # type: ignore[method-assign]
    drive_session(rt, lambda: False, max_frames=1000)
    assert rt.calls == ["begin", "end", "destroy"]


def test_max_frames_still_destroys():
    rt = FakeRuntime()
    drive_session(rt, lambda: False, max_frames=5)
    assert rt.calls.count("frame:FOCUSED") + rt.calls.count("frame:READY") + rt.calls.count("frame:VISIBLE") <= 5
    assert rt.calls[-1] == "destroy" and "request-exit" not in rt.calls


def test_signals_become_a_stop_request_and_are_put_back():
    before = signal.getsignal(signal.SIGINT)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here: only the request is set
        time.sleep(0.01)
        assert stop.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        stop.raise_if_stopped()
    with stop_on_signals() as term:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
    with pytest.raises(SystemExit) as exc:
        term.raise_if_stopped()
    assert exc.value.code == 128 + signal.SIGTERM
    StopRequest().raise_if_stopped()  # no signal: nothing


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """A private Xvfb; its display name (read from -displayfd, so no fixed number can clash)."""
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert xvfb.stdout is not None
    ready, _, _ = select.select([xvfb.stdout], [], [], 30)
    if not ready:
        xvfb.kill()
        pytest.skip("Xvfb did not start within 30 s")
    return xvfb, ":" + xvfb.stdout.readline().decode().strip()


def test_desktop_viewer_stops_on_ctrl_c_under_xvfb(tmp_path):
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): cannot test the desktop window")
    from vrdream.photosphere import read_photosphere, write_photosphere

    rng = np.random.default_rng(17)
    Image.fromarray((rng.random((32, 64, 3)) * 255).astype(np.uint8)).save(tmp_path / "raw.png")
    raw = read_photosphere(tmp_path / "raw.png")
    write_photosphere(tmp_path / "dream.png", 1 - raw.pixels, raw, vrdream={"Raw": "raw.png"})
    xvfb, display = _start_xvfb()
    try:
        env = dict(os.environ, DISPLAY=display, PYTHONUNBUFFERED="1")
        view = subprocess.Popen(
            [sys.executable, "-m", "vrdream", "view", "--desktop", str(tmp_path / "dream.png")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert view.stdout is not None
            ready, _, _ = select.select([view.stdout], [], [], 120)
            line = view.stdout.readline() if ready else ""
            assert "Ctrl-C" in line, f"the window did not open: {line!r} {view.stderr.read() if view.stderr else ''}"
            time.sleep(0.5)  # drawing frames
            assert_ctrl_c_stops(view)
        finally:
            if view.poll() is None:
                view.kill()
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
