"""The dream engine as data: what every command that dreams is given, and the one function that builds it.

``vrdream dream``, ``video`` and ``zoom`` (and any command to come that dreams) take the same
dream options; they all go through :class:`EngineOptions` and :func:`build_dreamer`, so a
flag means the same thing in every command and none can be dropped on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .dream import Dreamer, DreamSettings
from .presets import DEFAULT_PRESET


@dataclass(frozen=True)
class EngineOptions:
    """What dreams: the settings (a preset's, with any changes), and the files the engine reads.

    Plain values only (paths as strings), so a request can be stored as JSON and replayed.
    """

    #: The dream settings, already resolved (a preset's settings with the user's changes applied).
    settings: DreamSettings = field(default_factory=DreamSettings)
    #: The preset the settings started from (recorded in the output's provenance; None: none named).
    preset: str | None = DEFAULT_PRESET
    #: A state-dict file for backbones whose weights are not bundled (googlenet, vgg16).
    weights: str | None = None
    #: The guide image of a ``guide:LAYER`` objective.
    guide: str | None = None

    def resolved(self, dreamer: Dreamer) -> EngineOptions:
        """These options with the objective the engine really uses (the backbone's default when empty)."""
        objective = self.settings.objective or dreamer.backbone.spec.default_layer
        return EngineOptions(self.settings.replace(objective=objective), self.preset, self.weights, self.guide)


def build_dreamer(options: EngineOptions) -> Dreamer:
    """The :class:`~vrdream.dream.Dreamer` for ``options``: backbone (with ``weights``), objective (with ``guide``)."""
    from .backbones import create_backbone
    from .device import resolve_device
    from .photosphere import read_photosphere
    from .tensors import to_tensor

    s = options.settings
    backbone = create_backbone(
        s.backbone, weights=options.weights, device=resolve_device(s.device), channels_last=s.channels_last
    )
    guide = to_tensor(read_photosphere(Path(options.guide), flat=True).pixels) if options.guide else None
    return Dreamer(s, backbone=backbone, guide=guide)
