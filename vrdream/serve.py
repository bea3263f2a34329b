"""``vrdream serve``: the gaze crossfade in a web browser, a headset's included, with nothing to install.

A small local web server (Starlette on uvicorn) serves the viewer's web page (built into
``vrdream.viewer``'s ``web/dist`` by ``make web``) and the two panoramas. Its routes, the
contract with the page:

``GET /``, ``GET /<file>``
    the page's files (``index.html`` for ``/``); nothing outside the bundle folder.
``GET /settings.json``
    :func:`vrdream.viewer.controls.viewer_settings`: the numbers the OpenXR and desktop viewers use.
``GET /scene.json``
    what to show: ``{"kind": "image"|"video", "dream": {"url", "width", "height", "levels",
    "level_url"}, "raw": {...} | null, "start_yaw_rad", "start_pitch_rad", "note"}``; ``levels`` are
    the mip levels' ``[width, height]`` (GL style), null for a video; a video's also has ``fps`` and
    ``frames``.
``GET /media/dream``, ``GET /media/raw``
    a video's bytes (HTTP Range requests answered), an image's level 0 as PNG.
``GET /media/{dream|raw}/level/{k}.png?x0=A&x1=B&y0=C&y1=D``
    mip level ``k`` of the image's sRGB mip pyramid (:func:`vrdream.viewer.srgb.srgb_mip_level`),
    optionally only columns ``[A, B)``, which wrap around the 0°/360° seam (so ``A`` may be negative
    and ``B`` past the width: tiles with gutters), and rows ``[C, D)``, which do not. A span of more than
    the width plus ``MAX_GUTTER`` columns either side, or rows outside the level, is 400; a level
    that does not exist, 404.

Only GET and HEAD are answered (405 otherwise); any path that is not plainly inside the served
files (``..``, encoded dots or slashes, backslashes) is 404 before it reaches a route.
"""

from __future__ import annotations

import gc
import io
import os
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import numpy as np

from .errors import InputError, VrdreamError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

#: Video containers vrdream reads and writes (:data:`vrdream.videoio.CONTAINERS`), and the type each is served as.
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}
#: Columns a level tile may reach past the level on either side (gutters across the 0°/360° seam).
MAX_GUTTER = 256
#: Bytes of encoded PNGs the server keeps for repeated requests.
CACHE_BYTES = 128 << 20
NOT_BUILT = "the viewer's web page is not built: run `make web`"

Which = Literal["dream", "raw"]


def web_bundle(root: Path | None = None) -> Path:
    """The folder of the built web page (``root``, default the one installed with ``vrdream.viewer``).

    :class:`VrdreamError` (one line: how to build it) when it holds no ``index.html``.
    """
    if root is None:
        root = Path(str(resources.files("vrdream.viewer"))) / "web" / "dist"
    if not (root / "index.html").is_file():
        raise VrdreamError(NOT_BUILT)
    return root


@dataclass(frozen=True)
class Image:
    """A panorama held in memory: (H, W, 3) uint8 sRGB on the full 2:1 canvas."""

    pixels: np.ndarray


@dataclass(frozen=True)
class Video:
    """A 360° video file, served as it is; fps and frames as PyAV reads them (to keep two videos in step)."""

    path: Path
    width: int
    height: int
    fps: float
    frames: int


@dataclass(frozen=True)
class Scene:
    """What the page shows: the dream, its raw (None: the dream alone), where the view starts, and a
    line for the user (or None)."""

    dream: Image | Video
    raw: Image | Video | None
    start_yaw_rad: float = 0.0
    start_pitch_rad: float = 0.0
    note: str | None = None

    @property
    def kind(self) -> Literal["image", "video"]:
        return "video" if isinstance(self.dream, Video) else "image"


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_TYPES


def _video(path: Path) -> Video:
    from .videoio import probe

    info = probe(path)  # one-line InputError for a missing, unreadable or video-less file
    return Video(path, info.width, info.height, float(info.fps), info.frames)


def load_scene(dream: str | Path, raw: str | Path | None = None) -> Scene:
    """Read what ``vrdream serve`` shows; every problem with the files is an error here, before any server.

    An image is read as ``vrdream view`` reads it (:func:`vrdream.viewer.panorama.load_panoramas`:
    the raw the dream records, partial photospheres placed on the full canvas, the GPano start
    view). A video's raw is ``raw`` alone: dream videos do not record theirs.
    """
    dream, raw = Path(dream), None if raw is None else Path(raw)
    for path in (dream, raw):
        if path is not None and not path.is_file():
            raise InputError(path, "no such file")
    if is_video(dream):
        if raw is not None and not is_video(raw):
            raise InputError(raw, f"is not a video ({', '.join(VIDEO_TYPES)}), but the dream {dream} is one")
        note = None if raw else f"{dream}: no --raw video given: showing the dream alone"
        return Scene(_video(dream), None if raw is None else _video(raw), note=note)
    from .viewer.panorama import load_panoramas

    pano = load_panoramas(dream, raw)
    return Scene(
        Image(pano.dream),
        None if pano.raw is None else Image(pano.raw),
        pano.start_yaw_rad,
        pano.start_pitch_rad,
        pano.note,
    )


@dataclass
class ByteLRU:
    """Least-recently-used values up to ``budget`` bytes in all (``functools.lru_cache`` counts entries,
    and one full-size PNG can outweigh a hundred tiles)."""

    budget: int
    _items: OrderedDict[Hashable, bytes] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: other requests go on meanwhile
        if len(value) <= self.budget:
            with self._lock:
                self._items[key] = value
                while sum(map(len, self._items.values())) > self.budget:
                    self._items.popitem(last=False)
        return value


class MipLevels:
    """An image's sRGB mip levels, each made from the one above when first asked for and then kept
    (a third more than the image in all)."""

    def __init__(self, level0: np.ndarray) -> None:
        self._levels = [level0]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        from .viewer.srgb import mip_chain_sizes

        return len(mip_chain_sizes(self._levels[0].shape[1], self._levels[0].shape[0]))

    def __getitem__(self, k: int) -> np.ndarray:
        from .viewer.srgb import srgb_mip_level

        with self._lock:
            while len(self._levels) <= k:
                self._levels.append(srgb_mip_level(self._levels[-1], 1))
            return self._levels[k]


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes, fast (zlib level 1: the LAN is quicker than stronger compression)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def crop_wrapped(level: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
    """Columns ``[x0, x1)`` (wrapping around the 0°/360° seam) and rows ``[y0, y1)`` of an equirect."""
    rows = level[y0:y1]
    if 0 <= x0 and x1 <= level.shape[1]:
        return rows[:, x0:x1]  # a view: the whole level is not copied
    return np.take(rows, np.arange(x0, x1), axis=1, mode="wrap")


def _media_json(source: Image | Video, which: Which) -> dict[str, Any]:
    from .viewer.srgb import mip_chain_sizes

    if isinstance(source, Video):
        return {
            "url": f"/media/{which}",
            "width": source.width,
            "height": source.height,
            "levels": None,
            "fps": source.fps,
            "frames": source.frames,
        }
    h, w = source.pixels.shape[:2]
    return {
        "url": f"/media/{which}",
        "width": w,
        "height": h,
        "levels": [list(s) for s in mip_chain_sizes(w, h)],
        "level_url": f"/media/{which}/level/{{k}}.png",
    }


def scene_json(scene: Scene) -> dict[str, Any]:
    """``/scene.json``: what the page loads (see the module's docstring)."""
    return {
        "kind": scene.kind,
        "dream": _media_json(scene.dream, "dream"),
        "raw": None if scene.raw is None else _media_json(scene.raw, "raw"),
        "start_yaw_rad": scene.start_yaw_rad,
        "start_pitch_rad": scene.start_pitch_rad,
        "note": scene.note,
    }


def plain_path(raw_path: bytes) -> bool:
    """Whether a request's raw (still percent-encoded) path names a file plainly: no ``.``/``..``
    segment (encoded or not), no encoded slash or backslash, no backslash, no NUL, no ``//``."""
    text = raw_path.decode("latin-1")
    lower = text.lower()
    if not text.startswith("/") or text.startswith("//") or any(s in lower for s in ("%2f", "%5c", "\\", "%00")):
        return False
    return not any(seg in (".", "..") for seg in unquote(text).split("/"))


def guard(app: ASGIApp) -> ASGIApp:
    """The app behind two refusals: any method but GET/HEAD (405), any path that is not plain (404)."""
    from starlette.responses import PlainTextResponse

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = None
            if scope["method"] not in ("GET", "HEAD"):
                refusal = PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
            elif not plain_path(scope.get("raw_path") or scope["path"].encode()):
                refusal = PlainTextResponse("Not Found", 404)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def _int_arg(request: Request, name: str, default: int) -> int:
    from starlette.exceptions import HTTPException

    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise HTTPException(400, f"{name}={text!r} is not an integer") from None


def build_app(scene: Scene, bundle: Path | None = None) -> ASGIApp:
    """The server's ASGI app for ``scene``, its page from ``bundle`` (default: :func:`web_bundle`'s)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .viewer.controls import viewer_settings

    bundle = web_bundle(bundle)
    sources: dict[str, Image | Video] = {"dream": scene.dream}
    if scene.raw is not None:
        sources["raw"] = scene.raw
    levels = {k: MipLevels(s.pixels) for k, s in sources.items() if isinstance(s, Image)}
    cache = ByteLRU(CACHE_BYTES)
    settings, described = viewer_settings(), scene_json(scene)

    def source(request: Request) -> Image | Video:
        found = sources.get(request.path_params["which"])
        if found is None:
            raise HTTPException(404)
        return found

    def tile(which: str, k: int, x0: int, x1: int, y0: int, y1: int) -> Response:
        pixels = levels[which][k]
        body = cache.get((which, k, x0, x1, y0, y1), lambda: encode_png(crop_wrapped(pixels, x0, x1, y0, y1)))
        return Response(body, media_type="image/png", headers={"Cache-Control": "no-cache"})

    def media(request: Request) -> Response:
        which, found = request.path_params["which"], source(request)
        if isinstance(found, Video):
            return FileResponse(found.path, media_type=VIDEO_TYPES[found.path.suffix.lower()])
        h, w = found.pixels.shape[:2]
        return tile(which, 0, 0, w, 0, h)

    def level(request: Request) -> Response:
        which, k = request.path_params["which"], request.path_params["k"]
        if isinstance(source(request), Video) or k >= len(levels[which]):
            raise HTTPException(404)
        pixels = levels[which][k]
        h, w = pixels.shape[:2]
        x0, x1 = _int_arg(request, "x0", 0), _int_arg(request, "x1", w)
        y0, y1 = _int_arg(request, "y0", 0), _int_arg(request, "y1", h)
        if not (0 < x1 - x0 <= w + 2 * MAX_GUTTER and 0 <= y0 < y1 <= h):
            raise HTTPException(
                400,
                f"level {k} is {w}x{h}: columns [x0, x1) may wrap but span 1 to {w + 2 * MAX_GUTTER}, "
                f"rows need 0 <= y0 < y1 <= {h}",
            )
        return tile(which, k, x0, x1, y0, y1)

    app: Starlette = Starlette(
        routes=[
            Route("/settings.json", lambda _: JSONResponse(settings), methods=["GET"]),
            Route("/scene.json", lambda _: JSONResponse(described), methods=["GET"]),
            Route("/media/{which}", media, methods=["GET"]),
            Route("/media/{which}/level/{k:int}.png", level, methods=["GET"]),
            # follow_symlink=False: a link inside the bundle that points out of it is not served.
            Mount("/", StaticFiles(directory=bundle, html=True, follow_symlink=False)),
        ]
    )
    return guard(app)


def lan_address() -> str | None:
    """This computer's address on its local network (the interface the default route leaves by), or None.

    Connecting a UDP socket sends nothing; it only makes the OS pick the outgoing interface.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


ALL_INTERFACES = ("0.0.0.0", "::", "")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (port 0: any free one); one-line errors when it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise VrdreamError(f"--host {host}: not an address of this computer ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    if os.name != "nt":  # restart at once on a port in TIME_WAIT; on Windows it would let two servers share one
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        import errno

        if exc.errno == errno.EADDRINUSE:
            raise VrdreamError(f"port {port} on {host} is in use: pick another with --port") from None
        raise VrdreamError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


def print_qr(url: str, out: Any) -> None:
    """A QR code of ``url`` in the terminal, for a headset's or phone's camera."""
    import segno

    qr = segno.make(url, error="l")
    try:
        qr.terminal(out=out, compact=True)  # half blocks: half the height
    except UnicodeEncodeError:  # a console that cannot print them (e.g. a Windows code page)
        qr.terminal(out=out)


def serve_file(
    dream: str | Path,
    raw: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    https: bool = False,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> None:
    """Serve ``dream`` (and its raw) to a browser until Ctrl-C (then ``KeyboardInterrupt``).

    ``host`` 127.0.0.1 serves this computer alone; ``0.0.0.0`` the local network too. ``https``:
    with a self-signed certificate (:func:`vrdream.tls.self_signed`), as WebXR needs a secure
    context on any host but localhost.

    >>> serve_file("dream.jpg", host="0.0.0.0")  # doctest: +SKIP
    """
    import uvicorn

    bundle = web_bundle()
    scene = load_scene(dream, raw)
    lan = lan_address() if host in ALL_INTERFACES else None
    cert = key = None
    if https:
        from .tls import self_signed

        cert, key = self_signed([a for a in (lan, host) if a and a not in ALL_INTERFACES])
    sock = bind(host, port)
    port = sock.getsockname()[1]
    scheme = "https" if https else "http"
    if not quiet:
        if scene.note:
            log(f"vrdream: {scene.note}")
        for line in start_lines(host, port, scheme, lan):
            log(line)
        if lan is not None:
            print_qr(f"{scheme}://{lan}:{port}/", sys.stdout)
        log("Ctrl-C stops the server")
    config = uvicorn.Config(
        build_app(scene, bundle),
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,  # a video stream held open by the browser must not keep it running
        ssl_certfile=cert,
        ssl_keyfile=key,
    )
    server = uvicorn.Server(config)
    # Everything loaded by now lives until exit: frozen, the collector never walks it again, and the
    # interpreter exits in a fraction of a second after Ctrl-C instead of seconds (as `vrdream view`).
    gc.freeze()
    with sock:
        server.run(sockets=[sock])
    if server.should_exit:
        # Stopped by Ctrl-C. uvicorn re-raises the signal as it returns, but inside asyncio.run, whose own
        # handler only cancels the serving task, and that task may already have ended: then nothing is
        # raised and the command would exit 0 (seen under load in tests/test_serve.py). Raised here, always.
        raise KeyboardInterrupt


def start_lines(host: str, port: int, scheme: str, lan: str | None) -> list[str]:
    """What ``vrdream serve`` prints on start: where to open the page, and how a headset gets a secure context."""
    local = f"{scheme}://localhost:{port}/"
    if host in ALL_INTERFACES:
        lines = [f"vrdream: serving on {local}" + (f" and {scheme}://{lan}:{port}/ (local network)" if lan else "")]
    elif host in ("127.0.0.1", "localhost", "::1"):
        lines = [f"vrdream: serving on {local} (this computer only; --host 0.0.0.0 for the local network)"]
    else:
        lines = [f"vrdream: serving on {scheme}://{host}:{port}/"]
    lines.append(
        "  WebXR needs a secure context: https, or localhost. A Quest on USB: "
        f"`adb reverse tcp:{port} tcp:{port}`, then open http://localhost:{port}/ in its browser"
    )
    if scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        lines.append("  Over the network, add --https (the browser asks once to trust its self-signed certificate)")
    elif scheme == "https":
        lines.append("  The certificate is self-signed: accept the browser's warning once (Advanced → proceed)")
    return lines
