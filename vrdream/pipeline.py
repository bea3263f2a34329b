"""Files in, files out: read a photosphere, choose where to dream, dream it, upscale, write it back.

This is the Python API behind ``vrdream dream`` (the CLI only parses flags).
The tensors' work happens in :mod:`vrdream.sphere`, :mod:`vrdream.dream` and
:mod:`vrdream.upscale`; this module decides what goes where and keeps the
file's metadata (GPano, EXIF, ICC) and provenance (``vrdream:Raw`` …).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import select
from .atomic import check_output
from .checkpoint import Job, open_job
from .dream import Dreamer, DreamSettings, FlatParam
from .octave import resize
from .photosphere import Photosphere, read_photosphere, write_photosphere
from .progress import progress, work_progress
from .sphere import (
    SphereOptions,
    SphereParam,
    dream_sphere,
    dream_sphere_scaled,
    scale_plan,
    step_pixels,
)


@dataclass(frozen=True)
class Selection:
    """Where to dream on the sphere; the parts given multiply (all default to everywhere)."""

    #: A grey equirect mask image (white = dream; soft edges respected).
    mask: Path | None = None
    #: Magic wand seed (yaw, pitch) in degrees, flood-filled by colour similarity.
    select: tuple[float, float] | None = None
    #: Magic wand colour tolerance (RGB distance, 0..1.7).
    tolerance: float = 0.12
    #: ``sky`` or ``ground``: above or below the horizon.
    region: str | None = None

    def where(self, raw: Tensor) -> Tensor | None:
        """(1, 1, H, W) mask for the equirect ``raw`` (1, 3, H, W), or None for everywhere."""
        h, w = raw.shape[-2:]
        parts = []
        if self.mask is not None:
            parts.append(select.from_file(self.mask, h, w))
        if self.select is not None:
            parts.append(select.magic_wand(raw, *self.select, tolerance=self.tolerance))
        if self.region is not None:
            parts.append(select.region(h, w, self.region))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out * p
        return out


@dataclass(frozen=True)
class Output:
    """What to write besides the dream itself."""

    #: Super-resolution factor applied to the dream (1: the output has the input's size).
    upscale: int = 1
    #: Super-resolution model (``auto`` picks by device); see ``vrdream models``.
    sr: str = "auto"
    #: Weights file for the SR model where its bundled weights are unavailable.
    sr_weights: str | None = None
    #: Write a partial photosphere back as the full sphere instead of its crop.
    full_sphere: bool = False
    #: JPEG/WebP quality.
    quality: int = 95


@dataclass(frozen=True)
class CanvasStore:
    """Checkpoints of a dream's finished octaves (:class:`vrdream.dream.OctaveStore`) in a job folder
    beside the output, as lossless 8-bit PNGs: a canvas image (1, 3, H, W), or cube faces
    (1, 6, 3, n, n) stacked into a (6n, n) image when ``faces``."""

    job: Job
    faces: bool

    def load(self, octave: int) -> Tensor | None:
        return self._tensor(self.job.load(octave)) if self.job.frame_path(octave).exists() else None

    def save(self, octave: int, canvas: Tensor) -> Tensor:
        c = canvas[0].float().cpu()
        image = c.permute(0, 2, 3, 1).reshape(-1, c.shape[-1], 3) if self.faces else c.permute(1, 2, 0)
        return self._tensor(self.job.save(octave, image.numpy()))

    def _tensor(self, image: np.ndarray) -> Tensor:
        t = torch.from_numpy(image)
        if self.faces:
            n = t.shape[1]
            return t.reshape(6, n, n, 3).permute(0, 3, 1, 2)[None]
        return t.permute(2, 0, 1)[None]


def to_tensor(pixels: np.ndarray) -> Tensor:
    """(H, W, C) numpy -> (1, C, H, W) tensor (a view, no copy)."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]


def to_numpy(img: Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) float32 numpy."""
    return img[0].permute(1, 2, 0).float().cpu().numpy()


def dream_photosphere(
    ps: Photosphere,
    dreamer: Dreamer,
    sphere: SphereOptions = SphereOptions(),
    selection: Selection = Selection(),
    *,
    upscale: int = 1,
    quiet: bool = False,
    store: CanvasStore | None = None,
) -> Tensor:
    """Dream a read photosphere; returns the dreamed equirect (1, 3, H', W') on the CPU.

    By default the dream's patterns are as large on the sphere as ``dreamer.settings.pattern_deg``
    says, whatever the input's pixel count, and finer detail octaves carry the dream up to the input's
    density (:func:`vrdream.sphere.scale_plan`); the result has the input's size. A given
    ``sphere.dream_width`` or ``sphere.face_size`` dreams at that size instead and lays the dream's
    detail onto the full-resolution raw. With ``upscale`` > 1 the dream itself (at ``sphere.dream_width``)
    is what gets super-resolved later, so it is returned at the dream width, dreamed on a finer canvas
    (:meth:`SphereOptions.for_upscale`).
    """
    raw = to_tensor(ps.pixels)
    where = selection.where(raw)
    real = to_tensor(ps.mask[..., None]) if ps.is_partial or float(ps.mask.min()) < 1.0 else None
    where = real if where is None else (where if real is None else where * real)
    min_size = dreamer.backbone.spec.min_size
    s = dreamer.settings
    if upscale == 1 and sphere.dream_width is None and sphere.face_size is None:
        plan = scale_plan(raw.shape[-1], s, min_size, sphere.pad)
        stages = [(st.steps, step_pixels(st.face_size, sphere.pad)) for st in plan.look + plan.detail]
        with work_progress(stages, "dreaming", quiet) as on_step:
            return dream_sphere_scaled(raw, dreamer, sphere.pad, where=where, on_step=on_step, store=store).cpu()
    if upscale > 1 and sphere.dream_width and sphere.dream_width < raw.shape[-1]:
        size = (sphere.dream_width // 2, sphere.dream_width)
        raw = resize(raw, size)
        where = None if where is None else resize(where, size)
    sphere = sphere.for_upscale(raw.shape[-1], upscale)
    param = SphereParam(raw, sphere.face_for(raw.shape[-1]), sphere.pad, where)
    shapes = param.shapes(s.octaves, s.octave_scale, min_size)
    stages = [(s.steps, step_pixels(shape[-1], sphere.pad)) for shape in shapes]
    with work_progress(stages, "dreaming", quiet) as on_step:
        return dream_sphere(raw, dreamer, sphere, where=where, on_step=on_step, store=store).cpu()


def dream_flat(ps: Photosphere, dreamer: Dreamer, *, quiet: bool = False, store: CanvasStore | None = None) -> Tensor:
    """Dream an ordinary picture (its alpha, if any, says where)."""
    raw = to_tensor(ps.pixels).to(dreamer.device)
    where = to_tensor(ps.mask[..., None]).to(dreamer.device) if float(ps.mask.min()) < 1.0 else None
    param = FlatParam(raw, where)
    with progress(dreamer.total_steps(param), "dreaming", quiet, unit="step") as bar:
        return dreamer(param, on_step=bar.update, store=store).cpu()


def provenance(
    src: Path, dst: Path, settings: DreamSettings, preset: str | None, kind: str = "dream"
) -> dict[str, str]:
    """vrdream's XMP fields: where the raw is (relative to the output's folder), and how it was dreamed."""
    try:
        raw = os.path.relpath(src.resolve(), dst.resolve().parent)
    except ValueError:  # another drive on Windows
        raw = str(src.resolve())
    fields = {
        "Kind": kind,
        "Raw": raw,
        "Backbone": settings.backbone,
        "Layer": settings.objective,
        "Seed": str(settings.seed),
    }
    if preset:
        fields["Preset"] = preset
    return fields


def dream_file(
    src: str | Path,
    dst: str | Path,
    settings: DreamSettings,
    *,
    preset: str | None = None,
    sphere: SphereOptions = SphereOptions(),
    selection: Selection = Selection(),
    output: Output = Output(),
    flat: bool = False,
    fov: tuple[float, float] | None = None,
    max_pixels: int | None = None,
    weights: str | None = None,
    guide: str | None = None,
    keep_faces: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """``vrdream dream``: dream the photosphere (or ``flat`` picture) ``src`` into ``dst``."""
    from .backbones import create_backbone
    from .device import resolve_device

    src, dst = Path(src), Path(dst)
    check_output(dst, inputs=[src], overwrite=overwrite)
    kw = {"max_pixels": max_pixels} if max_pixels else {}
    ps = read_photosphere(src, fov=fov, flat=flat, **kw)
    device = resolve_device(settings.device)
    backbone = create_backbone(settings.backbone, weights=weights, device=device, channels_last=settings.channels_last)
    guide_img = to_tensor(read_photosphere(guide, flat=True).pixels) if guide else None
    dreamer = Dreamer(settings, backbone=backbone, guide=guide_img)
    settings = dreamer.settings.replace(objective=settings.objective or backbone.spec.default_layer)
    # An interrupted dream resumes after its last finished octave when the same command is run again.
    job = open_job(src, dst, (settings, sphere, selection, flat, fov, output.upscale, weights, guide), settings.octaves)
    store = CanvasStore(job, faces=not flat)
    if flat:
        out = dream_flat(ps, dreamer, quiet=quiet, store=store)
    else:
        out = dream_photosphere(ps, dreamer, sphere, selection, upscale=output.upscale, quiet=quiet, store=store)
    if keep_faces:
        _write_faces(keep_faces, out, sphere, overwrite)
    fields = provenance(src, dst, settings, preset)
    if output.upscale > 1:
        out, model = _upscale(out, output, flat=flat, device=device, quiet=quiet)
        fields["Upscale"] = f"{model} x{output.upscale}"  # as `vrdream upscale` records it
    mask = None
    if not flat and dst.suffix.lower() in (".png", ".webp") and float(ps.mask.min()) < 1.0:
        mask = resize(to_tensor(ps.mask[..., None]), tuple(out.shape[-2:]))[0, 0].numpy()
    written = write_photosphere(
        dst,
        to_numpy(out),
        ps,
        mask=mask,
        crop=not output.full_sphere,
        quality=output.quality,
        vrdream=fields,
        overwrite=overwrite,
        inputs=[src],
    )
    job.remove()
    return written


def _upscale(img: Tensor, output: Output, *, flat: bool, device: torch.device, quiet: bool) -> tuple[Tensor, str]:
    """The dream super-resolved by ``output.sr`` (``auto``: chosen for ``device``, said unless ``quiet``),
    and the model that did it."""
    from .upscale import choose_sr_model, upscale_equirect, upscale_flat

    model = output.sr
    if model == "auto":
        model, why = choose_sr_model(device)
        if not quiet:
            print(f"super-resolution: {model} ({why})")
    fn = upscale_flat if flat else upscale_equirect
    with progress(None, f"upscaling ×{output.upscale}", quiet, unit="tile") as bar:

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return fn(img, output.upscale, model, device=device, weights=output.sr_weights, progress=step).cpu(), model


def _write_faces(folder: str, equi: Tensor, sphere: SphereOptions, overwrite: bool) -> None:
    """The dream as six cube faces (F R B L U D) in ``folder`` (``--keep-faces``)."""
    from .cubemap import e2c
    from .layout import write_cubemap

    faces = e2c(equi, sphere.face_for(equi.shape[-1]))[0].permute(0, 2, 3, 1).numpy()
    write_cubemap(Path(folder) / "face.png", faces, "faces", overwrite=overwrite)
