"""Files in, files out for super-resolution: ``vrdream upscale``, and the upscale step of a dream.

Kept out of :mod:`vrdream.pipeline`, which imports the dream engine, its backbones and their libraries
(timm, OpenCV, SciPy, py360convert): ``vrdream upscale`` loads only what super-resolution runs on.
The tensors' work is :mod:`vrdream.upscale`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .atomic import check_output
from .device import Precision, resolve_device
from .errors import VrdreamError
from .fileinfo import ReadOptions
from .photosphere import check_quality, resize, write_format, write_photosphere
from .progress import progress
from .provenance import upscale_fields
from .record import Recipe, Weights, precision_name, write_record
from .tensors import to_tensor
from .upscale import choose_sr_model, sr_dtype
from .upscale import upscale as upscale_tensor


@dataclass(frozen=True)
class UpscaleOptions:
    """Super-resolution of what is written (``--upscale``, ``--sr``, ``--sr-weights`` …)."""

    #: Factor (1: none; the output has the dream's size).
    factor: int = 1
    #: Model (``auto`` picks by device); see ``vrdream models``.
    model: str = "auto"
    #: Weights file for the model where its bundled weights are unavailable (ncnn .param or a state dict).
    weights: str | None = None
    #: ``auto`` (bf16 where the hardware runs it natively), ``fp32``, ``bf16`` or ``fp16``.
    precision: Precision = "auto"
    #: Tile side in input pixels (None: from the memory budget).
    tile: int | None = None
    #: Memory the tiles may use, in GB (None: a quarter of what is free, at most 2).
    memory_budget_gb: float | None = None

    def __post_init__(self) -> None:
        if self.factor not in (1, 2, 3, 4):
            raise VrdreamError(f"--upscale {self.factor}: must be 1, 2, 3 or 4")
        if self.tile is not None and self.tile < 16:
            raise VrdreamError(f"--tile {self.tile}: must be at least 16 pixels")
        if self.memory_budget_gb is not None and self.memory_budget_gb <= 0:
            raise VrdreamError(f"--memory-budget {self.memory_budget_gb}: must be positive (GB)")


def upscale_file(
    src: str | Path,
    dst: str | Path,
    upscale: UpscaleOptions = UpscaleOptions(factor=4),
    *,
    flat: bool = False,
    fov_deg: tuple[float, float] | None = None,
    device: str = "auto",
    quality: int = 95,
    overwrite: bool = False,
    quiet: bool = False,
) -> Path:
    """``vrdream upscale``: super-resolve the panorama (or ``flat`` picture) ``src`` into ``dst``, seamlessly.

    >>> upscale_file("pano.jpg", "big.jpg", UpscaleOptions(factor=4))  # doctest: +SKIP
    """
    src, dst = Path(src), Path(dst)
    check_output(dst, inputs=[src], overwrite=overwrite)  # before the long part, not after
    write_format(dst)
    check_quality(quality)
    ps = ReadOptions(flat=flat, fov_deg=fov_deg).read(src)
    img = to_tensor(ps.pixels)
    out, model = super_resolve(img, upscale, flat=flat, device=resolve_device(device), quiet=quiet)
    del img
    pixels = out[0].permute(1, 2, 0).numpy()  # a view: no second full-size copy
    mask = None
    if dst.suffix.lower() in (".png", ".webp") and float(ps.mask.min()) < 1.0:
        mask = resize(ps.mask, height=pixels.shape[0], width=pixels.shape[1])
    fields = upscale_fields(ps.vrdream, src, dst, model, upscale.factor)
    written = write_photosphere(
        dst, pixels, ps, mask=mask, quality=quality, overwrite=overwrite, inputs=[src], vrdream=fields
    )
    settings = {"upscale": upscale, "flat": flat, "fov_deg": fov_deg, "quality": quality}
    recipe = Recipe(
        "upscale",
        settings,
        [src],
        weights=[Weights("sr", model, upscale.weights)],
        device=str(resolve_device(device)),
        precision=precision_name(sr_dtype(resolve_device(device), upscale.precision)),
        threads=torch.get_num_threads(),
    )
    write_record(written, recipe.to_json(written))
    return written


def super_resolve(
    img: Tensor, options: UpscaleOptions, *, flat: bool, device: torch.device, quiet: bool
) -> tuple[Tensor, str]:
    """``img`` (1, 3, H, W) super-resolved on the CPU by ``options.model`` (``auto``: chosen for ``device``,
    said unless ``quiet``), and the model that did it."""
    model = options.model
    if model == "auto":
        model, why = choose_sr_model(device)
        if not quiet:
            print(f"super-resolution: {model} ({why})")
    budget = None if options.memory_budget_gb is None else int(options.memory_budget_gb * 2**30)
    with progress(None, f"upscaling ×{options.factor}", quiet, unit="tile") as bar:

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        out = upscale_tensor(
            img,
            options.factor,
            model,
            sphere=not flat,
            device=device,
            tile=options.tile,
            memory_budget=budget,
            progress=step,
            weights=options.weights,
            precision=options.precision,
        )
    return out.cpu(), model
