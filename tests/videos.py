"""Small synthetic 360° test videos (a panorama turning in yaw, a moving object, a sine on the audio track),
and a stand-in for the dream engine.

No 360° video ships with the project, so the tests make their own. They are
written with PyAV directly (not with vrdream's writer) so that the reader and
writer under test do not produce their own test material.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image


def load_panorama(path: Path, width: int) -> np.ndarray:
    """The equirect at ``path`` resized to ``width × width/2``: ``(H, W, 3)`` float32 in [0, 1]."""
    img = Image.open(path).convert("RGB").resize((width, width // 2), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def scene(pano: np.ndarray, t: int, yaw_px_per_frame: float = 3.0, object_speed: float = 4.0) -> np.ndarray:
    """Frame ``t``: ``pano`` turned by ``t * yaw_px_per_frame`` columns (wrapping) with a bright disc moving right.

    Turning an equirect in yaw is a column shift, exact up to the sub-pixel
    interpolation; the disc (radius H/10) moves across the lower half, so the
    flow has a moving object against a moving background.
    """
    h, w = pano.shape[:2]
    shift = t * yaw_px_per_frame
    cols = (np.arange(w) - shift) % w
    c0 = np.floor(cols).astype(int)
    frac = (cols - c0)[None, :, None]
    frame = pano[:, c0] * (1 - frac) + pano[:, (c0 + 1) % w] * frac
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy, r = (w * 0.3 + t * object_speed) % w, h * 0.65, h / 10
    dx = (xx - cx + w / 2) % w - w / 2  # signed, wrapping: the disc crosses the seam too
    dy = yy - cy
    disc = np.clip(r - np.hypot(dx, dy), 0, 1)[..., None]  # one-pixel anti-aliased edge
    # A texture fixed to the disc (it moves with it), with periods well above twice the speed so the
    # flow is unambiguous.
    texture = (0.5 + 0.4 * np.sin(dx / 2.5) * np.cos(dy / 2.0))[..., None] * np.array([1.0, 0.5, 0.2])
    return (frame * (1 - disc) + texture * disc).astype(np.float32)


def need_codec(name: str, mode: str = "w") -> None:
    """Skip, saying so, when PyAV's FFmpeg lacks the encoder (``"w"``) or decoder (``"r"``) ``name``."""
    try:
        av.Codec(name, mode)
    except av.codec.codec.UnknownCodecError:
        pytest.skip(f"PyAV's FFmpeg has no {name} {'encoder' if mode == 'w' else 'decoder'}")


def make_video(
    path: Path,
    pano: np.ndarray,
    frames: int = 24,
    fps: Fraction = Fraction(24),
    *,
    audio: str | None = "aac",
    audio_rate: int = 48000,
    codec: str = "libx264",
    faststart: bool = False,
    yaw_px_per_frame: float = 3.0,
) -> Path:
    """Write a test video of ``frames`` frames of :func:`scene` with a 440 Hz sine on ``audio`` (codec or None)
    sampled at ``audio_rate``."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.height, vs.width = pano.shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "10"} if codec.startswith("libx26") else {}
        rate = audio_rate
        as_ = out.add_stream(audio, rate=rate, layout="stereo") if audio else None
        for t in range(frames):
            img = np.clip(np.rint(scene(pano, t, yaw_px_per_frame) * 255), 0, 255).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = t
            vf.time_base = 1 / fps
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        if as_ is not None:
            n = int(round(frames / fps * rate))
            tt = np.arange(n) / rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * tt)).astype(np.float32)
            stereo = np.stack([wave, wave])  # planar float
            step = 1024
            for i in range(0, n, step):
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(stereo[:, i : i + step]), format="fltp", layout="stereo"
                )
                af.sample_rate = rate
                af.pts = i
                af.time_base = Fraction(1, rate)
                out.mux(as_.encode(af))
            out.mux(as_.encode(None))
    return path


def attractor_dream(
    raw: torch.Tensor,
    init: torch.Tensor | None,
    steps: int,
    amp: float = 0.15,
    seed_amp: float = 0.02,
    gain: float = 0.5,
    seed: int = 1234,
) -> torch.Tensor:
    """A cheap, deterministic stand-in for the dream engine, with DeepDream's two traits that matter for video.

    1. Patterns are attractors: each step multiplies the existing detail (``init - raw``) by
       ``1 + gain`` and saturates it at ``±amp`` (tanh), so a short dream on carried detail keeps
       and sharpens that detail wherever it already is.
    2. New patterns start from seeds fixed to the *frame grid* (a fixed-seed noise with 4-pixel
       cells, like jitter and tiling tied to the image), so dreaming each frame from scratch grows
       patterns that stay on screen while the scene moves: flicker.

    Tensors (1, 3, H, W) in [0, 1]; ``init`` None starts from ``raw``.
    """
    h, w = raw.shape[-2:]
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, 3, max(1, h // 4), max(1, w // 4), generator=gen) - 0.5
    noise = torch.nn.functional.interpolate(noise, size=(h, w), mode="bilinear", align_corners=False)
    detail = torch.zeros_like(raw) if init is None else init - raw
    for _ in range(steps):
        detail = amp * torch.tanh((detail * (1 + gain) + seed_amp * noise) / amp)
    return (raw + detail).clamp(0, 1)


def dream_sequence(dream_frame, raws: list[torch.Tensor], settings) -> list[torch.Tensor]:
    """Dream ``raws`` in order with ``vrdream.video.next_dream`` (no files, no checkpoints)."""
    from vrdream.video import next_dream

    dreams, prev_raw, prev_dream = [], None, None
    for raw in raws:
        prev_dream = next_dream(dream_frame, raw, prev_raw, prev_dream, settings)
        prev_raw = raw
        dreams.append(prev_dream)
    return dreams
