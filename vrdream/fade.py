"""A raw → dream → raw crossfade video of a panorama, with 360° metadata.

A still dream in a headset is static; fading the real scene into its dream and
back (one of the seeds' ideas) makes the hallucination visibly *grow out of*
the place. The weight follows a raised cosine, ``w(t) = (1 − cos 2πt/T) / 2``,
which starts and ends on the raw panorama with zero speed, so the video also
loops without a jump.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .atomic import check_output
from .errors import InputError, VrdreamError
from .photosphere import read_photosphere, resize
from .progress import progress
from .provenance import read_raw
from .quantize import to_uint8
from .record import Recipe, write_recorded_video
from .videoio import EncodeSettings, check_encoding


@dataclass(frozen=True)
class FadeSettings:
    """``seconds``: length of the whole raw → dream → raw cycle; ``fps``: frame rate (exact).

    ``hold``: share of the cycle spent fully on the dream (0 = a pure raised cosine); the fades share the rest.
    """

    seconds: float = 10.0
    fps: Fraction = Fraction(30)
    hold: float = 0.0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise VrdreamError(f"--seconds {self.seconds}: must be positive")
        if not self.fps > 0:
            raise VrdreamError(f"--fps {self.fps}: must be positive")
        if not 0 <= self.hold < 1:
            raise VrdreamError(f"--hold {self.hold}: must be in [0, 1)")


def fade_weights(frames: int, hold: float = 0.0) -> np.ndarray:
    """(frames,) dream weights in [0, 1]: 0 at frame 0, 1 mid-cycle, back towards 0 (loops: frame ``frames`` = 0).

    With ``hold`` > 0 the middle ``hold`` share of the cycle stays at 1 and the raised cosine is
    squeezed into the rest.
    """
    if not 0 <= hold < 1:
        raise VrdreamError(f"fade hold must be in [0, 1), not {hold}")
    t = np.arange(frames) / frames  # cycle phase in [0, 1)
    # Distance from mid-cycle, with the hold cut out, rescaled so the fades span the remaining phase.
    d = np.clip((np.abs(t - 0.5) - hold / 2) / (1 - hold), 0, 0.5)
    return 0.5 + 0.5 * np.cos(2 * np.pi * d)


def fade_frames(raw: np.ndarray, dream: np.ndarray, weights: np.ndarray) -> Iterator[np.ndarray]:
    """uint8 frames ``(H, W, 3)``: ``(1 − w) raw + w dream`` for each weight."""
    for w in weights:
        yield to_uint8((1 - w) * raw + w * dream)


def fade_video(
    raw_path: str | Path,
    dream_path: str | Path,
    output: str | Path,
    settings: FadeSettings = FadeSettings(),
    *,
    encode: EncodeSettings = EncodeSettings(),
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """Write the raw → dream → raw crossfade of two panoramas as a 360° video.

    The raw panorama is resized to the dream's canvas when they differ (a dream may have been
    upscaled); both must be full-sphere canvases of the same 2:1 shape.
    """
    out = check_output(output, inputs=[raw_path, dream_path], overwrite=overwrite)
    check_encoding(out, encode)
    dream = read_photosphere(dream_path)
    raw = read_raw(raw_path, dream.vrdream)
    if raw.pixels.shape != dream.pixels.shape:
        if raw.width * dream.height != raw.height * dream.width:
            raise InputError(
                dream_path,
                f"canvas {dream.width}x{dream.height} does not match the raw panorama's {raw.width}x{raw.height}",
            )
        raw_px = resize(raw.pixels, height=dream.height, width=dream.width)
    else:
        raw_px = raw.pixels
    frames = max(2, round(settings.seconds * settings.fps))
    weights = fade_weights(frames, settings.hold)
    with progress(frames, "fading", quiet, unit="frame") as bar:

        def counted() -> Iterator[np.ndarray]:
            for f in fade_frames(raw_px, dream.pixels, weights):
                yield f
                bar.update(1)

        settings_used = {"fade": settings, "encode": encode}
        recipe = Recipe("fade", settings_used, [raw_path, dream_path], device="cpu", precision="none")
        return write_recorded_video(
            out,
            counted(),
            Fraction(settings.fps),
            recipe,
            settings=encode,
            overwrite=overwrite,
            inputs=[raw_path, dream_path],
        )
