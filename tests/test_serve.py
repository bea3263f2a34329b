"""``vrdream serve``: the routes the web page relies on, the path guard (in-process and on a real
uvicorn), one-line errors before the server starts, https, and Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import importlib
import io
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_ctrl_c_stops
from PIL import Image
from starlette.testclient import TestClient

from vrdream import serve
from vrdream.cli import main
from vrdream.errors import VrdreamError
from vrdream.photosphere import read_photosphere, write_photosphere
from vrdream.quantize import to_uint8
from vrdream.serve import NOT_BUILT, build_app, load_scene, web_bundle
from vrdream.viewer import controls
from vrdream.viewer.gaze import MODES, GazeSettings
from vrdream.viewer.panorama import load_panoramas
from vrdream.viewer.srgb import linear_to_srgb, mip_chain_sizes, srgb8_to_linear, srgb_mip_level, srgb_mip_pyramid

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for the built page: index.html, an asset, a link inside and a link out to a secret."""
    dist = tmp_path / "web" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>vrdream</title>")
    (dist / "assets" / "app.js").write_text("console.log('vrdream')")
    (tmp_path / "web" / "secret.txt").write_text("not for the network")
    (dist / "alias.js").symlink_to("assets/app.js")
    (dist / "leak.txt").symlink_to(tmp_path / "web" / "secret.txt")
    (dist / "leak-dir").symlink_to(tmp_path / "web", target_is_directory=True)
    return dist


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A 64×32 raw and its 'dream' (the negative), the dream recording its raw as vrdream does."""
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)).save(tmp_path / "raw.png")
    raw = read_photosphere(tmp_path / "raw.png")
    write_photosphere(tmp_path / "dream.png", 1 - raw.pixels, raw, vrdream={"Raw": "raw.png"})
    return tmp_path / "dream.png", tmp_path / "raw.png"


@pytest.fixture
def video(tmp_path: Path) -> Path:
    from vrdream.videoio import write_video

    rng = np.random.default_rng(6)
    frames = [rng.random((32, 64, 3), dtype=np.float32) for _ in range(3)]
    return write_video(tmp_path / "dream.mp4", frames, Fraction(10), spherical=True)


def _png(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


# --------------------------------------------------------------------------- the page's numbers


def test_settings_json_is_what_the_python_viewers_use(bundle: Path, pair: tuple[Path, Path]) -> None:
    got = TestClient(build_app(load_scene(pair[0]), bundle)).get("/settings.json").json()
    assert got == controls.viewer_settings()
    assert got["gaze"] == dataclasses.asdict(GazeSettings())
    assert got["modes"] == list(MODES)
    assert got["shows"] == ["gaze", "dream", "raw"]
    c = got["controls"]
    assert c["cone_step"] == controls.CONE_STEP and tuple(c["cone_scale_range"]) == controls.CONE_SCALE_RANGE
    assert c["keymap"] == controls.KEYMAP and tuple(c["commands"]) == controls.COMMANDS
    # The command cycle the page steps through is apply_command's.
    state = controls.ViewerState()
    for show in c["show_cycle"]:
        assert state.show == show
        state = controls.apply_command(state, "toggle")
    # The desktop viewer's field of view: `vrdream view --view-fov` starts its window there.
    assert _parser("view").get_default("view_fov") == got["view"]["fov_deg"] == controls.VIEW_FOV_DEG


def _parser(command: str) -> argparse.ArgumentParser:
    """One command's parser alone (the whole CLI's registers every command, torch included)."""
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"vrdream.cli.{command}").register(sub)
    return sub.choices[command]


# --------------------------------------------------------------------------- what is shown


def test_scene_of_a_partial_photosphere_is_what_vrdream_view_loads(bundle: Path, partial_photosphere: Path) -> None:
    pano = load_panoramas(partial_photosphere)
    client = TestClient(build_app(load_scene(partial_photosphere), bundle))
    got = client.get("/scene.json").json()
    h, w = pano.dream.shape[:2]
    assert (w, h) == (2 * h, h)  # placed on the full 2:1 canvas
    assert got == {
        "kind": "image",
        "dream": {
            "url": "/media/dream",
            "width": w,
            "height": h,
            "levels": [list(s) for s in mip_chain_sizes(w, h)],
            "level_url": "/media/dream/level/{k}.png",
        },
        "raw": None,
        "start_yaw_rad": pytest.approx(pano.start_yaw_rad),
        "start_pitch_rad": pytest.approx(pano.start_pitch_rad),
        "note": pano.note,
    }
    assert got["start_yaw_rad"] != 0 and got["note"]


def test_the_raw_a_dream_records_is_served(bundle: Path, pair: tuple[Path, Path]) -> None:
    dream, raw = pair
    client = TestClient(build_app(load_scene(dream), bundle))
    got = client.get("/scene.json").json()
    assert got["raw"]["url"] == "/media/raw" and got["note"] is None
    assert np.array_equal(_png(client.get("/media/raw").content), np.asarray(Image.open(raw).convert("RGB")))
    want = to_uint8(read_photosphere(dream).pixels)
    assert np.array_equal(_png(client.get("/media/dream").content), want)


def test_every_mip_level_and_wrapped_tiles(bundle: Path, pair: tuple[Path, Path]) -> None:
    dream = load_scene(pair[0]).dream
    assert isinstance(dream, serve.Image)
    pyramid = srgb_mip_pyramid(dream.pixels)
    client = TestClient(build_app(load_scene(pair[0]), bundle))
    for k, level in enumerate(pyramid):
        r = client.get(f"/media/dream/level/{k}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert np.array_equal(_png(r.content), level), k
    level1 = pyramid[1]  # 32×16
    # Across the 0°/360° seam both ways, with gutters: column x is column x mod width.
    for x0, x1 in [(-3, 5), (28, 36), (-4, 36), (0, 32), (40, 41)]:
        got = _png(client.get(f"/media/dream/level/1.png?x0={x0}&x1={x1}").content)
        assert np.array_equal(got, level1[:, [x % 32 for x in range(x0, x1)]]), (x0, x1)
    got = _png(client.get("/media/dream/level/1.png?x0=-2&x1=4&y0=3&y1=9").content)
    assert np.array_equal(got, level1[3:9, [30, 31, 0, 1, 2, 3]])
    assert client.get("/media/raw/level/0.png").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["x0=5&x1=5", "x0=6&x1=5", f"x0=0&x1={32 + 2 * serve.MAX_GUTTER + 1}", "y0=-1", "y1=17", "y0=4&y1=4", "x0=a"],
)
def test_a_bad_tile_is_400(bundle: Path, pair: tuple[Path, Path], query: str) -> None:
    client = TestClient(build_app(load_scene(pair[0]), bundle))
    assert client.get(f"/media/dream/level/1.png?{query}").status_code == 400


@pytest.mark.parametrize("path", ["/media/dream/level/7.png", "/media/dream/level/-1.png", "/media/dream/level/x.png"])
def test_a_level_that_does_not_exist_is_404(bundle: Path, pair: tuple[Path, Path], path: str) -> None:
    client = TestClient(build_app(load_scene(pair[0]), bundle))
    assert client.get(path).status_code == 404


def test_mip_levels_in_strips_are_the_whole_image_average(monkeypatch: pytest.MonkeyPatch) -> None:
    from vrdream.viewer import srgb

    monkeypatch.setattr(srgb, "_STRIP_VALUES", 48)  # a strip of one or two rows
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (37, 91, 3), dtype=np.uint8)  # odd sizes: the last row/column drops
    prev = image
    for k, (w, h) in enumerate(mip_chain_sizes(91, 37)[1:], start=1):
        fy, fx = (2 if prev.shape[0] > 1 else 1), (2 if prev.shape[1] > 1 else 1)
        whole = srgb8_to_linear(prev)[: h * fy, : w * fx].reshape(h, fy, w, fx, 3).mean(axis=(1, 3))
        prev = to_uint8(linear_to_srgb(whole))
        assert np.array_equal(srgb_mip_level(image, k), prev), k
        assert np.array_equal(srgb_mip_pyramid(image)[k], prev), k
    with pytest.raises(ValueError, match="mip level 8"):
        srgb_mip_level(image, 8)


def test_a_video_is_served_with_range_requests(bundle: Path, video: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw.mov"
    raw.write_bytes(video.read_bytes())
    client = TestClient(build_app(load_scene(video, raw), bundle))
    got = client.get("/scene.json").json()
    assert got["kind"] == "video" and got["note"] is None
    want = {"url": "/media/dream", "width": 64, "height": 32, "levels": None, "fps": 10.0, "frames": 3}
    assert got["dream"] == want
    assert got["raw"]["url"] == "/media/raw"
    data = video.read_bytes()
    whole = client.get("/media/dream")
    assert whole.content == data and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get("/media/dream", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert client.get("/media/raw").headers["content-type"] == "video/quicktime"
    assert client.get("/media/dream/level/0.png").status_code == 404
    alone = load_scene(video)
    assert alone.raw is None and alone.note and "--raw" in alone.note


# --------------------------------------------------------------------------- the guard

OUTSIDE = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/assets/../../secret.txt",
    "/assets%2fapp.js",
    "/assets%2Fapp.js",
    "/assets%5capp.js",
    "/..%5csecret.txt",
    "//etc/passwd",
    "/etc/passwd",
    "/leak.txt",
    "/leak-dir/secret.txt",
    "/index.html%00",
    "/media/../secret.txt",
]


def test_only_the_bundle_is_served(bundle: Path, pair: tuple[Path, Path]) -> None:
    client = TestClient(build_app(load_scene(pair[0]), bundle))
    page = client.get("/")
    assert page.status_code == 200 and "vrdream" in page.text and page.headers["content-type"].startswith("text/html")
    assert client.get("/assets/app.js").text == "console.log('vrdream')"
    assert client.get("/alias.js").status_code == 200  # a link that stays inside
    for path in OUTSIDE:
        r = client.get(path)
        assert r.status_code == 404 and "not for the network" not in r.text, path
    assert client.get("/media/nothing").status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(bundle: Path, pair: tuple[Path, Path], method: str) -> None:
    client = TestClient(build_app(load_scene(pair[0]), bundle))
    for path in ("/", "/scene.json", "/media/dream", "/nothing"):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD", (method, path)
    head = client.head("/settings.json")
    assert head.status_code == 200 and head.content == b""


@contextmanager
def running(app: object, **tls: str) -> Iterator[int]:
    """``app`` on a real uvicorn on a free loopback port (in a thread), as ``vrdream serve`` runs it."""
    import uvicorn

    sock = serve.bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **tls))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_the_guard_on_a_real_server_with_raw_request_lines(bundle: Path, pair: tuple[Path, Path]) -> None:
    """http.client sends the request line as written (httpx and browsers remove dot segments first)."""
    with running(build_app(load_scene(pair[0]), bundle)) as port:
        for path in [*OUTSIDE, "/./index.html", "/..", "/assets/..%2f..%2fsecret.txt", "/dist/../../secret.txt"]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.putrequest("GET", path, skip_accept_encoding=True)
            conn.endheaders()
            r = conn.getresponse()
            body = r.read()
            conn.close()
            assert r.status == 404 and b"not for the network" not in body, path
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for method, status in [("GET", 200), ("HEAD", 200), ("POST", 405)]:
            conn.request(method, "/scene.json")
            r = conn.getresponse()
            assert (r.status, r.read() == b"") == (status, method == "HEAD"), method
        conn.close()


# --------------------------------------------------------------------------- the command


def test_the_default_host_is_this_computer_only() -> None:
    args = _parser("serve").parse_args(["dream.jpg"])
    assert (args.host, args.port, args.https) == ("127.0.0.1", 8000, False)
    sock = serve.bind(args.host, 0)
    with sock:
        assert sock.getsockname()[0] == "127.0.0.1"


def test_an_unbuilt_page_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(VrdreamError, match="the viewer's web page is not built: run `make web`"):
        web_bundle(tmp_path)
    assert str(NOT_BUILT).count("\n") == 0


@pytest.fixture
def with_bundle(monkeypatch: pytest.MonkeyPatch, bundle: Path) -> Path:
    """``vrdream serve`` finds ``bundle`` as its built page; and must not get as far as listening."""
    real = serve.web_bundle
    monkeypatch.setattr(serve, "web_bundle", lambda root=None: real(root or bundle))
    return bundle


def _error_line(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_a_missing_page_is_said_before_anything_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    real = serve.web_bundle
    monkeypatch.setattr(serve, "web_bundle", lambda root=None: real(root or tmp_path / "unbuilt"))
    assert _error_line(["serve", str(tmp_path / "nope.jpg")], capsys) == f"vrdream: error: {NOT_BUILT}"


@pytest.mark.parametrize(
    "kind",
    ["missing", "text", "truncated", "missing raw", "image raw of a video", "video raw of an image", "text video"],
)
def test_a_bad_input_is_one_line_before_the_server_starts(
    kind: str,
    with_bundle: Path,
    pair: tuple[Path, Path],
    video: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    def no_server(*args: object) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr(serve, "bind", no_server)
    dream, raw = pair
    bad = tmp_path / "bad.png"
    argv = ["serve", str(bad)]
    if kind == "text":
        bad.write_text("not a picture")
    elif kind == "truncated":
        bad.write_bytes(dream.read_bytes()[:200])
    elif kind == "missing raw":
        argv = ["serve", str(dream), "--raw", str(bad)]
    elif kind == "video raw of an image":
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(video.read_bytes())
        argv = ["serve", str(dream), "--raw", str(bad)]
    elif kind == "image raw of a video":
        bad.write_bytes(raw.read_bytes())
        argv = ["serve", str(video), "--raw", str(bad)]
    elif kind == "text video":
        bad = tmp_path / "bad.mp4"
        bad.write_text("not a video")
        argv = ["serve", str(bad)]
    assert bad.name in _error_line(argv, capsys)


def test_a_port_in_use_is_one_line(with_bundle: Path, pair: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _error_line(["serve", str(pair[0]), "--port", str(port)], capsys)
    assert f"port {port}" in line and "in use" in line


def test_start_lines_say_where_and_how_to_get_a_secure_context() -> None:
    everywhere = "\n".join(serve.start_lines("0.0.0.0", 8123, "http", "192.0.2.7"))
    assert "http://localhost:8123/" in everywhere and "http://192.0.2.7:8123/" in everywhere
    assert "adb reverse tcp:8123 tcp:8123" in everywhere and "--https" in everywhere
    local = "\n".join(serve.start_lines("127.0.0.1", 8123, "http", None))
    assert "this computer only" in local and "--host 0.0.0.0" in local and "192.0.2.7" not in local
    assert "self-signed" in "\n".join(serve.start_lines("0.0.0.0", 8123, "https", "192.0.2.7"))


def test_the_qr_code_is_printed() -> None:
    out = io.StringIO()
    serve.print_qr("http://192.0.2.7:8123/", out)
    rows = out.getvalue().splitlines()
    assert len(rows) > 10 and all(len(r) == len(rows[0]) for r in rows) and "█" in rows[0]


# --------------------------------------------------------------------------- https


def test_a_self_signed_certificate_is_made_once_and_serves_localhost(
    tmp_path: Path, bundle: Path, pair: tuple[Path, Path]
) -> None:
    from cryptography import x509

    from vrdream.tls import self_signed

    folder = tmp_path / "cache"
    cert, key = self_signed(["192.0.2.7"], folder)
    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions
    names = san.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.0.2.7"}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert self_signed(["192.0.2.7"], folder) == (cert, key) and cert.read_bytes() == first  # kept
    self_signed(["192.0.2.8"], folder)
    assert cert.read_bytes() != first  # the LAN address changed: a new one
    # A browser that trusts it reaches the server at https://localhost.
    context = ssl.create_default_context(cafile=str(cert))
    with running(build_app(load_scene(pair[0]), bundle), ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        with urllib.request.urlopen(f"https://localhost:{port}/settings.json", context=context, timeout=5) as r:
            assert r.status == 200


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_stops_the_server_cleanly(bundle: Path, pair: tuple[Path, Path], tmp_path: Path) -> None:
    # The page is not built on every checkout: the command runs with the stand-in bundle.
    script = tmp_path / "serve.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\nimport vrdream.serve as s\nreal = s.web_bundle\n"
        "s.web_bundle = lambda root=None: real(root or Path(sys.argv[1]))\n"
        "from vrdream.cli import main\nsys.exit(main(sys.argv[2:]))\n"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    argv = [sys.executable, str(script), str(bundle), "serve", str(pair[0]), "--port", "0"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []  # read in a thread: select() cannot see lines already in the pipe's buffer
        threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True).start()
        deadline = time.monotonic() + 30
        while not any("Ctrl-C" in line for line in lines) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        out = "".join(lines)
        assert "Ctrl-C" in out, out
        url = next(w for w in out.split() if w.startswith("http://localhost:"))
        # A fresh opener without proxies: urlopen's global one keeps the proxy settings of whichever test used
        # it first (test_backbones' offline fixture points them at a closed port).
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url + "scene.json", timeout=60) as r:
            assert r.status == 200
        assert_ctrl_c_stops(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_every_video_container_vrdream_writes_is_served() -> None:
    from vrdream.videoio import CONTAINERS

    assert set(serve.VIDEO_TYPES) == set(CONTAINERS)
