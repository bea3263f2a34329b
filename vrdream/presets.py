"""Named dream settings in the users' words, picked by looking at results (docs/presets.png).

Lower layers of an ImageNet network respond to edges and colour gratings,
middle ones to textures and repeating patterns, later ones to object parts
(eyes, fur, wheels: the classic dog-faces) and whole objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from .errors import VrdreamError
from .settings import DreamSettings

if TYPE_CHECKING:
    from .video import VideoSettings


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    settings: DreamSettings


_LITE0 = DreamSettings(backbone="efficientnet_lite0")

PRESETS = MappingProxyType(
    {
        p.name: p
        for p in (
            Preset(
                "edges",
                "fine lines and colour fringes along every contour",
                _LITE0.replace(objective="blocks.1", octaves=3, steps=10, step_size=0.010),
            ),
            Preset(
                "textures",
                "woven, scaly and furry textures",
                _LITE0.replace(objective="blocks.2", octaves=4, steps=10, step_size=0.010),
            ),
            Preset(
                "patterns",
                "swirls, eyes-to-be and repeating ornaments over everything",
                _LITE0.replace(objective="blocks.3", octaves=3, steps=10, step_size=0.008),
            ),
            Preset(
                "parts",
                "eyes, snouts, fur and feathers: the classic dog-face dream",
                _LITE0.replace(objective="blocks.4", octaves=4, steps=10, step_size=0.008),
            ),
            Preset(
                "objects",
                "whole creatures and things growing out of the scene",
                _LITE0.replace(objective="blocks.5", octaves=5, steps=12, step_size=0.008),
            ),
            Preset(
                "classic",
                "the TensorFlow DeepDream tutorial's look on Inception-v3",
                DreamSettings(
                    backbone="inception_v3",
                    objective="mixed3+mixed5",
                    octaves=4,
                    octave_scale=1.4,
                    steps=10,
                    step_size=0.008,
                ),
            ),
            Preset(
                "hallucination-machine",
                "Suzuki et al. 2017's video dream (docs/hallucination-machine.md)",
                DreamSettings(
                    backbone="inception_v3",
                    objective="mixed5",
                    octaves=3,
                    octave_scale=1.8,
                    steps=16,
                    step_size=1.5 / 255,
                    normalize="mean",
                    jitter=32,
                ),
            ),
        )
    }
)

#: The preset used when none is named. ``patterns`` rather than ``parts``: its finer structures
#: make a dream that reads seamless to ../shared/tools/seam_score.py at every meridian (1.15 on
#: mars.jpg at 2048x1024), where the large dog faces of ``parts`` put the metric's own noise floor
#: at 1.31-1.35 even at meridians far from any cube edge (measured by turning the dream).
DEFAULT_PRESET = "patterns"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise VrdreamError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def video_settings(preset: str | None, settings: DreamSettings) -> VideoSettings:
    """The temporal settings a video dream implies: ``hallucination-machine`` is the original's
    (:data:`vrdream.video.HALLUCINATION_MACHINE`); any other preset dreams the first frame with the
    settings' ``steps`` and carries the detail on (:class:`vrdream.video.VideoSettings`' defaults)."""
    from .video import HALLUCINATION_MACHINE, VideoSettings

    if preset == "hallucination-machine":
        return HALLUCINATION_MACHINE
    return VideoSettings(steps_first=settings.steps)
