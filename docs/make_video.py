"""docs/video_flow.png, docs/video_coherence.png (+ .gif) and docs/video_fade.png: the 360° video machinery.

    python docs/make_video.py [--width 256] [--frames 8]

The test video is tests/videos.py's: samples/mars.jpg turning in yaw with a moving disc. The
coherence sheet dreams it with the real engine (efficientnet_lite0 ``blocks.4``), every frame
independently and with vrdream.video's temporal coherence, and prints both flicker scores.
"""

from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS.parent / "tests"))
from videos import load_panorama, scene  # noqa: E402  (the tests' synthetic 360° video)

from vrdream.dream import Dreamer, DreamSettings  # noqa: E402
from vrdream.equirect import equirect_dirs, rotate, rotation_matrix, sample_equirect  # noqa: E402
from vrdream.fade import FadeSettings, fade_video, fade_weights  # noqa: E402
from vrdream.flow import motion_mask, sphere_flow, warp  # noqa: E402
from vrdream.quantize import to_uint8  # noqa: E402
from vrdream.sheet import contact_sheet, to_image  # noqa: E402
from vrdream.sphere import SphereOptions, dream_sphere  # noqa: E402
from vrdream.tensors import to_numpy, to_tensor  # noqa: E402
from vrdream.video import DreamFrame, VideoSettings, next_dream, warped_difference  # noqa: E402
from vrdream.videoio import iter_frames  # noqa: E402

SAMPLE = DOCS.parent / "vrdream" / "samples" / "mars.jpg"


def turned(equi: Tensor, rot: Tensor) -> Tensor:
    """``equi`` with the sphere turned by ``rot``."""
    h, w = equi.shape[-2:]
    return sample_equirect(equi, rotate(equirect_dirs(h, w)[None], rot.T), mode="bicubic").clamp(0, 1)


def equirect_flow_warp(prev: Tensor, cur: Tensor) -> np.ndarray:
    """The original's way: Farneback on the equirect itself, warped with ``cv2.remap``."""
    gray = [cv2.cvtColor(to_uint8(to_numpy(t)), cv2.COLOR_RGB2GRAY) for t in (cur, prev)]
    f = cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    h, w = gray[0].shape
    mx = (np.arange(w)[None] + f[..., 0]).astype(np.float32)
    my = (np.arange(h)[:, None] + f[..., 1]).astype(np.float32)
    return cv2.remap(to_numpy(prev), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def error_map(a: np.ndarray, b: np.ndarray, gain: float = 8) -> np.ndarray:
    e = np.clip(np.abs(a - b).mean(-1) * gain, 0, 1)
    return cv2.applyColorMap(to_uint8(e), cv2.COLORMAP_INFERNO)[..., ::-1].copy()


def flow_sheet(pano: np.ndarray) -> Image.Image:
    """Sphere flow vs equirect flow at the ±180° border (a yaw turn) and at the south pole (a turn about x)."""
    w = pano.shape[1]
    base = turned(to_tensor(pano), rotation_matrix(roll=math.radians(60), dtype=torch.float64))
    cases = [
        (
            "yaw turn across the ±180° border",
            to_tensor(scene(pano, 40, object_speed=0)),
            to_tensor(scene(pano, 41, object_speed=0)),
            lambda x: np.concatenate([x[w // 4 :, :6], x[w // 4 :, -6:]], 1),
            "ground at the border",
        ),
        (
            "2° turn across the south pole",
            base,
            turned(base, rotation_matrix(pitch=math.radians(2), dtype=torch.float64)),
            lambda x: x[-w // 20 :],
            "rows below -73°",
        ),
    ]
    tiles = []
    for name, prev, cur, region, where in cases:
        flow = sphere_flow(prev, cur)
        ours, naive, new = to_numpy(warp(prev, flow)), equirect_flow_warp(prev, cur), to_numpy(cur)
        e1, e2 = region(np.abs(ours - new)).mean(), region(np.abs(naive - new)).mean()
        angle = np.clip(np.degrees(flow.angle[0, 0].numpy()) / 4, 0, 1)
        tiles += [
            (f"{name}: new frame", new),
            ("sphere flow: angle moved (white = 4°)", np.dstack([angle] * 3)),
            (f"|sphere-flow warp - new| x8 ({where}: {e1:.4f})", error_map(ours, new)),
            (f"|equirect-flow warp - new| x8 ({where}: {e2:.4f})", error_map(naive, new)),
        ]
        print(f"{name}: mean |error| in the {where}: sphere flow {e1:.4f}, equirect flow {e2:.4f}")
    return contact_sheet(tiles, 4, 384, title="optical flow on padded cube faces (vrdream.flow) vs on the equirect")


def sphere_dream_frame(settings: DreamSettings) -> DreamFrame:
    """The seamless sphere engine as ``dream_frame(raw, init, steps)`` (what ``vrdream video`` passes)."""
    dreamer = Dreamer(settings)

    def dream_frame(raw: Tensor, init: Tensor | None, steps: int) -> Tensor:
        return dream_sphere(raw, dreamer, SphereOptions(), init=init, steps=steps)

    return dream_frame


def coherence(raws: list[Tensor], dream_frame: DreamFrame) -> tuple[Image.Image, list[Image.Image], Tensor]:
    """Independent vs coherent dreams of ``raws``: a contact sheet, GIF frames and the first frame's dream."""
    runs = {}
    for name, settings in (("coherent", VideoSettings()), ("independent", VideoSettings(coherent=False))):
        dreams, prev_raw, prev_dream = [], None, None
        for raw in raws:
            prev_dream = next_dream(dream_frame, raw, prev_raw, prev_dream, settings)
            prev_raw = raw
            dreams.append(prev_dream)
            print(name, len(dreams), flush=True)
        runs[name] = (dreams, warped_difference(raws, dreams))
    (coh, fc), (ind, fi) = runs["coherent"], runs["independent"]
    print(f"flicker: independent {fi:.4f}, coherent {fc:.4f}, {fi / fc:.2f}x steadier")
    show = range(1, len(raws), 2)
    tiles = [(f"raw frame {t}", to_numpy(raws[t])) for t in show]
    tiles += [
        (
            f"moving (white) / static, frame {t}",
            np.dstack([to_numpy(motion_mask(sphere_flow(raws[t - 1], raws[t])))[..., 0]] * 3),
        )
        for t in show
    ]
    tiles += [(f"independent: full dream, frame {t}", to_numpy(ind[t])) for t in show]
    tiles += [
        (f"coherent: carried detail + {VideoSettings().steps_next} steps, frame {t}", to_numpy(coh[t])) for t in show
    ]
    title = (
        f"efficientnet_lite0 blocks.4, turning panorama + moving disc; flicker = mean |dream_t - "
        f"warp(dream_t-1)|: independent {fi:.4f}, coherent {fc:.4f} ({fi / fc:.1f}x steadier)"
    )
    sheet = contact_sheet(tiles, len(show), 2 * raws[0].shape[-1], title=title)
    gif = [
        contact_sheet(
            [(f"independent, frame {t}", to_numpy(ind[t])), ("coherent", to_numpy(coh[t]))], 2, 2 * raws[0].shape[-1]
        )
        for t in range(len(raws))
    ]
    return sheet, gif, coh[0]


def fade_sheet(raw: np.ndarray, dream: np.ndarray, folder: Path) -> Image.Image:
    """Frames of ``vrdream fade`` (2 s at 24 fps), decoded back from the MP4 it writes."""
    to_image(raw).save(folder / "raw.png")
    to_image(dream).save(folder / "dream.png")
    out = fade_video(
        folder / "raw.png",
        folder / "dream.png",
        folder / "fade.mp4",
        FadeSettings(seconds=2, fps=Fraction(24)),
        overwrite=True,
        quiet=True,
    )
    frames = list(iter_frames(out))
    weights = fade_weights(len(frames))
    tiles = [(f"frame {t}: dream weight {weights[t]:.2f}", frames[t]) for t in range(0, len(frames), 6)]
    return contact_sheet(
        tiles,
        4,
        2 * raw.shape[1],
        title=f"vrdream fade RAW DREAM --seconds 2 --fps 24: {len(frames)} frames, decoded from the MP4",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256, help="equirect width of the test video")
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    pano = load_panorama(SAMPLE, args.width)
    flow_sheet(pano).save(DOCS / "video_flow.png")
    k = args.width / 256
    raws = [to_tensor(scene(pano, t, yaw_px_per_frame=3 * k, object_speed=4 * k)) for t in range(args.frames)]
    sheet, gif, first = coherence(raws, sphere_dream_frame(DreamSettings(objective="blocks.4", octaves=3, steps=10)))
    sheet.save(DOCS / "video_coherence.png")
    gif[0].save(DOCS / "video_coherence.gif", save_all=True, append_images=gif[1:], duration=250, loop=0)
    tmp = DOCS / ".video_fade_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        fade_sheet(to_numpy(raws[0]), to_numpy(first), tmp).save(DOCS / "video_fade.png")
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
