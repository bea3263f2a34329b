"""Fixtures shared by every test module: real panoramas, and a phone-style partial photosphere."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Triton 3.8 (imported by torch._dynamo, e.g. when torchvision.ops is first imported) segfaults when its
    # LLVM loads after Mesa llvmpipe's LLVM in the same process; the suite opens EGL contexts between torch
    # tests, so triton loads first, whatever the order or selection of tests.
    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


#: The shipped sample's size (samples/make_mars.py writes vrdream/samples/mars.jpg).
SAMPLE_SIZE = (1536, 768)
#: The synthetic phone photosphere's full canvas: the sample brought down to this size first.
PARTIAL_CANVAS = (1024, 512)
# The partial photosphere's rectangle on that canvas: yaw -90°..+120°, pitch -40°..+50°
# (columns (yaw/360 + 0.5)·1024, rows (0.5 - pitch/180)·512, rounded).
PARTIAL_CROP = (256, 114, 597, 256)  # left, top, width, height
PARTIAL_POSE = {
    "PoseHeadingDegrees": "30.0",
    "PosePitchDegrees": "1.5",
    "PoseRollDegrees": "-0.5",
    "InitialViewHeadingDegrees": "15",
    "InitialViewPitchDegrees": "5",
    "InitialViewRollDegrees": "0",
    "InitialHorizontalFOVDegrees": "75.0",
}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data folder (``<repo>/../shared/data``); tests using it skip where it is absent."""
    path = REPO.parent / "shared" / "data"
    if not (path / "mars.jpg").is_file():
        pytest.skip(f"shared test data not found at {path}")
    return path


def assert_ctrl_c_stops(proc: subprocess.Popen) -> None:
    """Ctrl-C a running ``vrdream`` command: gone within 3 s, exit 130, and on stderr only ``vrdream: interrupted``."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    gone = time.monotonic() - sent
    err = proc.stderr.read() if proc.stderr else ""
    assert gone < 3.0, f"still running {gone:.1f} s after Ctrl-C"
    assert code == 130, err
    assert "Traceback" not in err and err.strip().splitlines() == ["vrdream: interrupted"], err


def seam_score(shared_data: Path, raw: Path, dream: Path) -> dict:
    """../shared/tools/seam_score.py RAW DREAM --json: {"score", "mean_change", "edges"}."""
    tool = shared_data.parent / "tools" / "seam_score.py"
    res = subprocess.run(
        [sys.executable, str(tool), str(raw), str(dream), "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)


@pytest.fixture(scope="session")
def sample_pano() -> Path:
    """``vrdream/samples/mars.jpg``: a ``SAMPLE_SIZE`` full-sphere panorama with GPano XMP (package data)."""
    path = REPO / "vrdream" / "samples" / "mars.jpg"
    assert path.is_file(), f"{path} is missing; rebuild it with samples/make_mars.py"
    return path


def _phone_xmp(left: int, top: int, width: int, height: int, full_w: int, full_h: int) -> bytes:
    # As Google Camera writes it: attributes of one rdf:Description, with fields vrdream does not use.
    attrs = {
        "UsePanoramaViewer": "True",
        "CaptureSoftware": "Photo Sphere",
        "StitchingSoftware": "Photo Sphere",
        "ProjectionType": "equirectangular",
        **PARTIAL_POSE,
        "CroppedAreaImageWidthPixels": width,
        "CroppedAreaImageHeightPixels": height,
        "FullPanoWidthPixels": full_w,
        "FullPanoHeightPixels": full_h,
        "CroppedAreaLeftPixels": left,
        "CroppedAreaTopPixels": top,
        "FirstPhotoDate": "2024-05-01T10:00:00.000Z",
        "SourcePhotosCount": "24",
    }
    body = "\n   ".join(f'GPano:{k}="{v}"' for k, v in attrs.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 5.1.0-jc003">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GPano="http://ns.google.com/photos/1.0/panorama/"\n   '
        f"{body}/></rdf:RDF></x:xmpmeta>" + " " * 200 + '<?xpacket end="w"?>'
    ).encode("utf-8")


def phone_exif() -> Image.Exif:
    """EXIF as a phone writes it (make, model, date, orientation 1)."""
    exif = Image.Exif()
    exif[0x010F] = "Google"  # Make
    exif[0x0110] = "Pixel 8"  # Model
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"  # DateTimeOriginal
    return exif


@pytest.fixture
def partial_photosphere(tmp_path: Path, sample_pano: Path) -> Path:
    """A phone-style partial photosphere JPEG cut from the sample: ``PARTIAL_CROP`` of the ``PARTIAL_CANVAS``
    canvas, tagged (by hand, not by vrdream's writer) with GPano Cropped*/FullPano*/Pose*/InitialView* and EXIF."""
    left, top, width, height = PARTIAL_CROP
    full_w, full_h = PARTIAL_CANVAS
    with Image.open(sample_pano) as im:
        part = im.convert("RGB").resize(PARTIAL_CANVAS, Image.LANCZOS).crop((left, top, left + width, top + height))
    path = tmp_path / "partial.jpg"
    part.save(path, quality=92, exif=phone_exif().tobytes(), xmp=_phone_xmp(left, top, width, height, full_w, full_h))
    return path


@pytest.fixture(scope="session")
def lite0():
    """The default backbone, loaded once for every test that dreams."""
    from vrdream.backbones import create_backbone

    return create_backbone("efficientnet_lite0")


@pytest.fixture(scope="session")
def sample_equirect(sample_pano: Path):
    """``vrdream/samples/mars.jpg`` as a (1, 3, H, W) tensor in [0, 1] (``SAMPLE_SIZE``)."""
    from vrdream.photosphere import read_photosphere
    from vrdream.tensors import to_tensor

    return to_tensor(read_photosphere(sample_pano).pixels)
