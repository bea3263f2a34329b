"""Seamless, memory-bounded super-resolution of equirects and flat images.

The image is padded by a margin of context, cut into overlapping tiles, and the tiles' outputs are
blended with linear ramps across their overlaps (weights that sum to exactly 1), so the tiling
leaves no trace; the margin's output is dropped. For an equirect the margin comes *through the
sphere* (:func:`vrdream.equirect.pad_equirect`: the columns wrap at 0/360 degrees, the rows
continue over the poles half a turn away), so neither the wrap nor the poles show a seam.
Real-ESRGAN's own tiling crops tiles without blending and reflect-pads at the 0/360 border; that
is what this module avoids.

Memory: the output is the only full-size buffer; the tile size bounds the rest (an explicit
``memory_budget`` in bytes, by default a share of what the device has free).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .device import Precision, autocast, autocast_dtype
from .device import memory_budget as free_memory_budget
from .equirect import pad_equirect
from .errors import VrdreamError, check_choice
from .srmodels import SR_MODELS
from .srnets import SRNet, load_sr_model

Progress = Callable[[int, int], None]  # called with (tiles done, tiles in all) after each tile
#: Working memory of the network per input pixel of a tile at x4, bytes, (fp32, bf16/fp16 autocast):
#: peak RSS growth of one tile measured on the CPU under jemalloc with ``retain:true`` (the allocator
#: the conventions recommend; glibc's malloc needs about 60 % of it), rounded up. RRDB 19.5 / 9.8 KB
#: (64-channel maps at 4x resolution), UpConv7 22.9 / 11.7 KB (its second pass runs on 4x the
#: pixels), the compact net under 1 KB (2 KB kept: its tiles reach the 1024 px cap anyway). Half
#: precision halves the activations, so its tiles are about 1.4x wider and their overlaps cost fewer pixels.
BYTES_PER_PIXEL = {"esrgan": (20480, 10240), "compact": (2048, 2048), "upconv7": (24576, 12288)}

#: Default tile overlap per architecture (see :class:`TileSettings`). 16 px where tiles are small on a
#: CPU (RRDB and UpConv7 fit 416-448 px in bf16, 288-320 px in fp32, in the 2 GB tile budget), so that
#: overlaps cost under 10 % more pixels.
OVERLAP = {"esrgan": 16, "compact": 32, "upconv7": 16}

#: Receptive field of one pass (input px an output pixel sees) of the architectures whose field is small: the
#: compact net's 18 3x3 convolutions, UpConv7's six unpadded 3x3 convolutions and its 4x4 stride-2 transposed
#: one. See :func:`context`. RRDB's field is wider than any margin (none here: it keeps the overlap's).
FIELD = {"compact": 18, "upconv7": 7}


#: What ``--sr auto`` runs. On a GPU the sharpest model is fast enough. On the CPU waifu2x-photo: the
#: most faithful on photos (+0.83 dB over bicubic at x4, docs/make_upscale.py; the GAN-trained
#: Real-ESRGAN models score below bicubic) and, on the sample's dreams at x4, the one the seam metric
#: reads quietest (docs/upscale_seams.md: worst edge 1.18-1.22 over 3 seeds, the GAN-trained models
#: 1.29-1.31). It is ~6x faster than realesrgan-x4plus; realesr-animevideov3 is ~6x faster still, for
#: whoever prefers speed.
AUTO_SR = {"cuda": "realesrgan-x4plus", "cpu": "waifu2x-photo"}


@dataclass(frozen=True)
class TileSettings:
    """How an image is tiled, in input pixels.

    ``tile``: side of a tile; None picks the largest that fits the memory budget.
    ``overlap``: pixels shared by neighbouring tiles, cross-faded with linear ramps. The image is
    also padded by this much (through the sphere for an equirect, reflected for a flat image) to
    give its border context; that margin's output is dropped. None: :data:`OVERLAP` for the model's
    architecture. Measured on a real photo (72 px tiles, x4), against the untiled output:
    realesr-animevideov3 0.7/255 with 32 px, 5/255 with 16; waifu2x-photo 0.45/255 with 16 px;
    realesrgan-x4plus 46-60/255 at any overlap from 16 to 32 px (41-43 dB PSNR: its context reaches
    further than any overlap, so larger tiles are what helps it); with none, seams of 50-75/255.
    """

    tile: int | None = None
    overlap: int | None = None

    def overlap_for(self, arch: str) -> int:
        return OVERLAP[arch] if self.overlap is None else self.overlap


def sr_dtype(device: torch.device, precision: Precision = "auto") -> torch.dtype | None:
    """The autocast dtype for super-resolution (None: fp32).

    ``auto`` differs from :func:`vrdream.device.autocast_dtype` on the CPU: there a dream stays fp32
    because its *gradients* suffer in bf16, but SR is a forward pass only, whose bf16 output is
    51-62 dB PSNR from fp32 (invisible) and 1.8-2.1x faster where oneDNN runs bf16 natively
    (AVX512-BF16/AMX). Elsewhere it follows :func:`~vrdream.device.autocast_dtype`.
    """
    if precision == "auto" and device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return autocast_dtype(device, precision)


def passes(net_scale: int, scale: int) -> int:
    """How many times a ``net_scale`` network runs to reach at least ``scale``."""
    return max(1, math.ceil(math.log(scale) / math.log(net_scale) - 1e-9))


def context(arch: str, net_scale: int, scale: int) -> int | None:
    """Input pixels an output pixel at ``scale`` depends on, through every pass of the network (each sees
    :data:`FIELD` px of its own input) and the bicubic downscale after an overshoot (2 taps either side);
    None where the field is too wide to count (RRDB).

    Padded by this much context (through the sphere), the image's outputs are those of any wider margin:
    only the margin's own outputs, which are dropped, feel the zero padding at its border (up to 40 % fewer
    pixels than the overlap's margin on a small panorama; tests/test_upscale.py).
    """
    if arch not in FIELD:
        return None
    n = passes(net_scale, scale)
    reach = sum(FIELD[arch] / net_scale**k for k in range(n))
    return math.ceil(reach) + (1 if net_scale**n != scale else 0)


def scaled_forward(net: SRNet, x: Tensor, scale: int) -> Tensor:
    """(B, 3, H, W) -> (B, 3, scale H, scale W): the network as many times as needed, then a bicubic
    downscale to ``scale`` when it overshoots (how Real-ESRGAN makes its x2/x3 models from the x4
    net, and how a x2 waifu2x makes x4: twice)."""
    n = passes(net.scale, scale)
    for _ in range(n):
        x = net(x)
    h, w = x.shape[-2] * scale // net.scale**n, x.shape[-1] * scale // net.scale**n
    if (h, w) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
    return x


def tile_starts(size: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """Tiles of at most ``tile`` px covering ``size`` px, neighbours sharing ``overlap`` px: the tile
    length actually used and the start offsets. The tiles are spread evenly (all of one length),
    so the last one does not overlap its neighbour by most of a tile."""
    if tile >= size:
        return size, [0]
    n = math.ceil((size - overlap) / (tile - overlap))
    length = math.ceil((size - overlap) / n) + overlap
    return length, [min(i * (length - overlap), size - length) for i in range(n)]


def feather(starts: list[int], tile: int, scale: int, trim: int) -> list[Tensor]:
    """1-D blending weights of tiles of ``tile`` px starting at ``starts``, at output resolution,
    (tile * scale,) each.

    Where tile i and tile i+1 overlap, i's weight falls linearly and i+1's rises over the same
    span, so at every pixel the weights of all tiles sum to exactly 1 (no normalisation buffer).
    The span leaves out ``trim`` input px at each end of the overlap: there a tile's output still
    feels the zero padding at its own edge, so it gets weight 0 rather than a small one.
    """
    length = tile * scale
    pos = torch.arange(length, dtype=torch.float32) + 0.5  # output pixel centres, relative to the tile
    weights = []
    for i, s in enumerate(starts):
        w = torch.ones(length)
        if i > 0:  # rises over the overlap with the previous tile
            lo, hi = (0 + trim) * scale, (starts[i - 1] + tile - s - trim) * scale
            w = torch.minimum(w, ((pos - lo) / (hi - lo)).clamp(0, 1))
        if i + 1 < len(starts):  # falls over the overlap with the next tile
            lo, hi = (starts[i + 1] - s + trim) * scale, (tile - trim) * scale
            w = torch.minimum(w, ((hi - pos) / (hi - lo)).clamp(0, 1))
        weights.append(w)
    return weights


def auto_tile(arch: str, batch: int, budget: int, *, half: bool = False) -> int:
    """The largest tile side (multiple of 16, 64..1024) whose working memory fits ``budget`` bytes;
    ``half``: the network runs in bf16/fp16 autocast."""
    side = math.isqrt(max(budget, 1) // (BYTES_PER_PIXEL[arch][half] * batch))
    return int(min(1024, max(64, side // 16 * 16)))


def run_tiled(
    fn: Callable[[Tensor], Tensor],
    padded: Tensor,
    margin: int,
    scale: int,
    tile: int,
    overlap: int,
    *,
    device: torch.device,
    progress: Progress | None = None,
) -> Tensor:
    """Apply ``fn`` ((B, 3, h, w) -> (B, 3, scale h, scale w)) tile by tile, blending the overlaps.

    ``padded`` is the image (B, 3, H, W) with ``margin`` px of context on every side; the result is
    (B, 3, scale H, scale W) float32 on ``padded``'s device: the only full-size buffer, each tile's
    output is added into it straight away. Each tile runs on ``device``.
    """
    b, c, hp, wp = padded.shape
    (th, ys), (tw, xs) = tile_starts(hp, tile, overlap), tile_starts(wp, tile, overlap)
    trim = overlap // 4
    wy, wx = feather(ys, th, scale, trim), feather(xs, tw, scale, trim)
    m = margin * scale
    out = torch.zeros(b, c, (hp - 2 * margin) * scale, (wp - 2 * margin) * scale, device=padded.device)
    grid = [(y0, fy, x0, fx) for y0, fy in zip(ys, wy) for x0, fx in zip(xs, wx)]
    for i, (y0, fy, x0, fx) in enumerate(grid):
        # The tile's output span in ``out`` (which starts at the margin), clipped to it.
        oy0, ox0 = y0 * scale - m, x0 * scale - m
        cy0, cx0 = max(oy0, 0), max(ox0, 0)
        cy1, cx1 = min(oy0 + th * scale, out.shape[-2]), min(ox0 + tw * scale, out.shape[-1])
        if cy1 > cy0 and cx1 > cx0:
            y = fn(padded[..., y0 : y0 + th, x0 : x0 + tw].to(device)).float()
            weight = fy.to(device)[:, None] * fx.to(device)[None, :]
            part = (y * weight)[..., cy0 - oy0 : cy1 - oy0, cx0 - ox0 : cx1 - ox0]
            out[..., cy0:cy1, cx0:cx1] += part.to(out.device)
        if progress is not None:
            progress(i + 1, len(grid))
    return out


def upscale(
    img: Tensor,
    scale: int,
    model: str = "auto",
    *,
    sphere: bool,
    device: torch.device | str | None = None,
    tile: int | None = None,
    memory_budget: int | None = None,
    progress: Progress | None = None,
    weights: str | None = None,
    precision: Precision = "auto",
    tiles: TileSettings = TileSettings(),
) -> Tensor:
    """Super-resolve images (B, 3, H, W) in [0, 1] -> (B, 3, scale H, scale W).

    ``sphere``: the images are equirects, padded across the 0°/360° wrap and the poles
    (:func:`vrdream.equirect.pad_equirect`), so the result is seamless on the sphere; else flat images,
    reflect-padded at their borders.
    ``model``: a name from :data:`vrdream.srmodels.SR_MODELS` or ``auto`` (:func:`choose_sr_model`).
    ``device``: where the network runs (default: the image's device); the result stays on the
    image's device. ``tile``: tile side in input pixels (default: from ``memory_budget`` bytes,
    itself by default a quarter of the device's free memory, at most 2 GiB on the CPU). ``weights``: see
    :func:`vrdream.srnets.load_sr_model`. ``precision``: ``auto`` (default: bf16 where the hardware
    runs it natively, see :func:`sr_dtype`), ``fp32``, ``bf16`` or ``fp16``.
    ``tiles``: the tile overlap (and a default tile side).
    """
    if img.ndim != 4 or img.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W), got {tuple(img.shape)}")
    if scale < 1:
        raise VrdreamError(f"scale {scale}: must be 1 or more")
    check_choice("precision", precision, Precision)
    if scale == 1:
        return img.clone()
    device = torch.device(device) if device is not None else img.device
    name = choose_sr_model(device)[0] if model == "auto" else model
    # Channels-last: oneDNN's convolutions run on that layout natively instead of converting every
    # layer's input and output (measured: 14 % less CPU for the compact net; outputs within 1e-5).
    net = load_sr_model(name, weights=weights, device=device).to(memory_format=torch.channels_last)
    dtype = sr_dtype(device, precision)
    budget = memory_budget if memory_budget is not None else free_memory_budget(device, 0.25)
    if memory_budget is None and device.type == "cpu":
        budget = min(budget, 2 << 30)  # the output lives in the same RAM: keep x4 of 4096x2048 under 6 GB
    arch = SR_MODELS[name].arch
    side = tile or tiles.tile or auto_tile(arch, img.shape[0], budget, half=dtype is not None)
    overlap = tiles.overlap_for(arch)
    if side <= 2 * overlap:
        raise VrdreamError(f"tile {side}: must be more than twice the overlap ({overlap} px)")
    margin = min(overlap, context(arch, net.scale, scale) or overlap, img.shape[-2] - 1, img.shape[-1] - 1)
    padded = pad_equirect(img, margin) if sphere else F.pad(img, (margin,) * 4, mode="reflect")

    def fn(x: Tensor) -> Tensor:
        with torch.inference_mode(), autocast(device, dtype):
            return scaled_forward(net, x.contiguous(memory_format=torch.channels_last), scale)

    return run_tiled(fn, padded, margin, scale, side, overlap, device=device, progress=progress).clamp_(0, 1)


def choose_sr_model(device: torch.device | str) -> tuple[str, str]:
    """The model ``--sr auto`` uses on ``device`` (:data:`AUTO_SR`), and why (one line for the user)."""
    device = torch.device(device)
    name = AUTO_SR["cuda" if device.type == "cuda" else "cpu"]
    if device.type == "cuda":
        return name, f"on a GPU the sharpest model, {name}, is fast enough"
    model, best = SR_MODELS[name], SR_MODELS[AUTO_SR["cuda"]]
    fast = max(SR_MODELS.values(), key=lambda m: m.cpu_speed)
    return name, (
        f"on the CPU the most faithful on photos, ~{model.cpu_speed / best.cpu_speed:.0f}x faster than "
        f"{best.name}; --sr {fast.name} is ~{fast.cpu_speed / model.cpu_speed:.0f}x faster still"
    )
