"""Files in, files out: read a photosphere, choose where to dream, dream it, upscale, write it back.

This is the Python API behind ``vrdream dream`` (the CLI only parses flags).
The tensors' work happens in :mod:`vrdream.sphere`, :mod:`vrdream.dream` and
:mod:`vrdream.upscale`; this module decides what goes where and keeps the
file's metadata (GPano, EXIF, ICC) and provenance (``vrdream:Raw`` …).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import select
from .atomic import check_output
from .checkpoint import Job, open_job
from .dream import Dreamer, FlatParam
from .engine import EngineOptions, build_dreamer
from .errors import VrdreamError
from .fileinfo import ReadOptions
from .layout import cubemap_paths, write_cubemap
from .octave import resize
from .photosphere import Photosphere, check_quality, write_format, write_photosphere
from .progress import progress, work_progress
from .provenance import dream_fields, upscale_step
from .quantize import to_uint8
from .record import Weights, dream_recipe, write_record
from .select import Region
from .sphere import SphereOptions, SphereParam, dream_sphere, dream_sphere_scaled, scale_plan, step_pixels
from .superres import UpscaleOptions, super_resolve
from .tensors import to_numpy, to_tensor


@dataclass(frozen=True)
class Selection:
    """Where to dream on the sphere; the parts given multiply (all default to everywhere)."""

    #: A grey equirect mask image (white = dream; soft edges respected).
    mask: Path | None = None
    #: Magic wand seed (yaw, pitch) in degrees, flood-filled by colour similarity.
    select_deg: tuple[float, float] | None = None
    #: Magic wand colour tolerance (RGB distance, 0..1.7).
    tolerance: float = 0.12
    #: ``sky`` or ``ground``: above or below the horizon.
    region: Region | None = None

    def __post_init__(self) -> None:
        if self.select_deg is not None:
            yaw_deg, pitch_deg = self.select_deg
            if not (-180 <= yaw_deg <= 360 and -90 <= pitch_deg <= 90):
                raise VrdreamError(
                    f"--select {yaw_deg:g},{pitch_deg:g}: yaw must be in -180..360 and pitch in -90..90 degrees"
                )
        if not 0 < self.tolerance <= 1.8:
            raise VrdreamError(f"--tolerance {self.tolerance}: must be in (0, 1.8] (a distance between RGB colours)")
        if self.region not in (None, "sky", "ground"):
            raise VrdreamError(f"--region {self.region}: must be sky or ground")

    def flags(self) -> list[str]:
        """The flags that made this selection (to name them in messages)."""
        given = {"--mask": self.mask, "--select": self.select_deg, "--region": self.region}
        return [flag for flag, value in given.items() if value is not None]

    def where(self, raw: Tensor) -> Tensor | None:
        """(1, 1, H, W) mask for the equirect ``raw`` (1, 3, H, W), or None for everywhere."""
        h, w = raw.shape[-2:]
        parts = []
        if self.mask is not None:
            parts.append(select.from_file(self.mask, h, w))
        if self.select_deg is not None:
            parts.append(select.magic_wand(raw, *self.select_deg, tolerance=self.tolerance))
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

    #: Super-resolution of the dream.
    upscale: UpscaleOptions = UpscaleOptions()
    #: Write a partial photosphere back as the full sphere instead of its crop.
    full_sphere: bool = False
    #: JPEG/WebP quality (1-100).
    quality: int = 95

    def __post_init__(self) -> None:
        check_quality(self.quality)


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


def dream_photosphere(
    ps: Photosphere,
    dreamer: Dreamer,
    sphere: SphereOptions = SphereOptions(),
    selected: Tensor | None = None,
    *,
    upscale: int = 1,
    quiet: bool = False,
    store: CanvasStore | None = None,
) -> Tensor:
    """Dream a read photosphere; returns the dreamed equirect (1, 3, H', W') on the CPU.

    ``selected`` (1, 1, H, W) in [0, 1] says where to dream (:meth:`Selection.where`; None: everywhere);
    a partial photosphere's unknown pixels are never dreamed.

    By default the dream's patterns are as large on the sphere as ``dreamer.settings.pattern_deg``
    says, whatever the input's pixel count, and finer detail octaves carry the dream up to the input's
    density (:func:`vrdream.sphere.scale_plan`); the result has the input's size. A given
    ``sphere.dream_width`` or ``sphere.face_size`` dreams at that size instead and lays the dream's
    detail onto the full-resolution raw. With ``upscale`` > 1 the dream itself (at ``sphere.dream_width``)
    is what gets super-resolved later, so it is returned at the dream width, dreamed on a finer canvas
    (:meth:`SphereOptions.for_upscale`).
    """
    raw = to_tensor(ps.pixels)
    real = to_tensor(ps.mask[..., None]) if ps.is_partial or float(ps.mask.min()) < 1.0 else None
    where = real if selected is None else (selected if real is None else selected * real)
    min_size = dreamer.backbone.spec.min_size
    s = dreamer.settings
    if upscale == 1 and sphere.dream_width is None and sphere.face_size is None:
        plan = scale_plan(raw.shape[-1], s, min_size, sphere.pad)
        with work_progress(plan.work(sphere.pad), "dreaming", quiet) as on_step:
            return dream_sphere_scaled(raw, dreamer, sphere.pad, where=where, on_step=on_step, store=store).cpu()
    if upscale > 1 and sphere.dream_width and sphere.dream_width < raw.shape[-1]:
        size = {"height": sphere.dream_width // 2, "width": sphere.dream_width}
        raw = resize(raw, **size)
        where = None if where is None else resize(where, **size)
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


@dataclass(frozen=True)
class DreamRequest:
    """Everything ``vrdream dream`` is asked, as data (a batch or a stimulus set can store and replay it)."""

    #: What dreams: settings, preset, weights and guide files.
    engine: EngineOptions = EngineOptions()
    #: How to read the input (``flat`` picture, ``fov_deg`` of an untagged partial panorama, size cap).
    read: ReadOptions = ReadOptions()
    #: The cube canvas (dream width, face size).
    sphere: SphereOptions = SphereOptions()
    #: Where on the sphere to dream.
    selection: Selection = Selection()
    #: Super-resolution, crop and quality of what is written.
    output: Output = Output()
    #: Also write the dreamed cube faces (F R B L U D) into this folder.
    keep_faces: str | None = None

    def __post_init__(self) -> None:
        if self.read.flat:  # a flag that cannot apply is an error, never a silent no-op
            sphere_only = {
                "--fov": self.read.fov_deg is not None,
                "--dream-width": self.sphere.dream_width is not None,
                "--face-size": self.sphere.face_size is not None,
                "--full-sphere": self.output.full_sphere,
                "--keep-faces": self.keep_faces is not None,
                **{flag: True for flag in self.selection.flags()},
            }
            given = [flag for flag, on in sphere_only.items() if on]
            if given:
                raise VrdreamError(f"{', '.join(given)}: panorama options, not for a --flat picture")


def dream_file(
    src: str | Path,
    dst: str | Path,
    request: DreamRequest = DreamRequest(),
    *,
    overwrite: bool = False,
    quiet: bool = False,
    dreamer: Dreamer | None = None,
) -> Path:
    """``vrdream dream``: dream the photosphere (or ``flat`` picture) ``src`` into ``dst``; returns the path written.

    ``dreamer``: the engine built for ``request.engine``, to reuse across files (None: built here).

    >>> dream_file("pano.jpg", "dream.jpg", DreamRequest(engine=EngineOptions(preset="parts")))  # doctest: +SKIP
    """
    src, dst = Path(src), Path(dst)
    check_output(dst, inputs=[src], overwrite=overwrite)
    write_format(dst)
    if request.keep_faces:
        cubemap_paths(Path(request.keep_faces) / "face.png", "faces", overwrite=overwrite)
    flat = request.read.flat
    ps = request.read.read(src)
    selected = None if flat else request.selection.where(to_tensor(ps.pixels))  # (1, 1, H, W), None: everywhere
    if selected is not None and float(selected.max()) <= 0:
        raise VrdreamError(f"{' '.join(request.selection.flags())}: the selection is empty; nothing would be dreamed")
    dreamer = build_dreamer(request.engine) if dreamer is None else dreamer
    engine = request.engine.resolved(dreamer)
    output = request.output
    # What determines the dream (not the output's name, format or quality): an interrupted dream resumes
    # after its last finished octave when the same command, or one that only changes those, is run again.
    what = (engine, request.read, request.sphere, request.selection, output.upscale.factor)
    job = open_job(src, dst, what, engine.settings.octaves)
    store = CanvasStore(job, faces=not flat)
    with job.resumable():
        if flat:
            out = dream_flat(ps, dreamer, quiet=quiet, store=store)
        else:
            out = dream_photosphere(
                ps, dreamer, request.sphere, selected, upscale=output.upscale.factor, quiet=quiet, store=store
            )
    if request.keep_faces:
        _write_faces(request.keep_faces, out, request.sphere, overwrite)
    fields = dream_fields(src, dst, engine, request.read.fov_deg)
    sr = None
    if output.upscale.factor > 1:
        out, model = super_resolve(out, output.upscale, flat=flat, device=dreamer.device, quiet=quiet)
        fields.update(upscale_step(model, output.upscale.factor))
        sr = Weights("sr", model, output.upscale.weights)
    mask = None
    if not flat and dst.suffix.lower() in (".png", ".webp") and float(ps.mask.min()) < 1.0:
        mask = resize(to_tensor(ps.mask[..., None]), height=out.shape[-2], width=out.shape[-1])[0, 0].numpy()
    # Quantised before the encoder runs, and the float result let go: its memory (1.6 GB at 16K) then
    # serves the encoder's own full-size buffers instead of adding to them.
    pixels = to_uint8(to_numpy(out))
    del out
    written = write_photosphere(
        dst,
        pixels,
        ps,
        mask=mask,
        crop=not output.full_sphere,
        quality=output.quality,
        vrdream=fields,
        overwrite=overwrite,
        inputs=[src],
    )
    inputs = [p for p in (src, request.selection.mask, engine.guide) if p is not None]
    recipe = dream_recipe("dream", {"request": replace(request, engine=engine)}, inputs, engine, dreamer, sr)
    write_record(written, recipe.to_json(written))
    job.remove()
    return written


def _write_faces(folder: str, equi: Tensor, sphere: SphereOptions, overwrite: bool) -> None:
    """The dream as six cube faces (F R B L U D) in ``folder`` (``--keep-faces``)."""
    from .cubemap import e2c

    faces = e2c(equi, sphere.face_for(equi.shape[-1]))[0].permute(0, 2, 3, 1).numpy()
    write_cubemap(Path(folder) / "face.png", faces, "faces", overwrite=overwrite)
