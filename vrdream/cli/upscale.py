"""``vrdream upscale IN -o OUT``: super-resolve a panorama (or a --flat picture) without seams."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import add_output_options, command

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = command(
        sub,
        "upscale",
        __doc__,
        help="super-resolve a panorama (or --flat picture) x2..x4",
        epilog="Panoramas are tiled with their context taken through the sphere, so neither the "
        "0/360 degree wrap nor the poles show a seam; GPano is rescaled to the new size.",
    )
    p.add_argument("input", metavar="IN", help="panorama or picture (JPEG, PNG, TIFF, WebP)")
    add_output_options(p)
    p.add_argument("--scale", type=int, choices=[2, 3, 4], default=4, help="upscaling factor (default 4)")
    p.add_argument(
        "--sr",
        default="auto",
        metavar="MODEL",
        help="super-resolution model: auto (picks by device and speed) or one of `vrdream models`",
    )
    p.add_argument(
        "--sr-weights",
        metavar="FILE",
        help="weights for MODEL: an ncnn .param (its .bin beside it) or a PyTorch state dict",
    )
    p.add_argument("--flat", action="store_true", help="an ordinary picture, not a panorama (reflected borders)")
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda, cuda:1 ...")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="auto: bf16 where the hardware runs it natively (default)",
    )
    p.add_argument("--tile", type=int, metavar="PX", help="tile side in input pixels (default: from the memory budget)")
    p.add_argument(
        "--memory-budget",
        type=float,
        metavar="GB",
        help="memory the tiles may use (default: a quarter of what is free, at most 2)",
    )
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..atomic import check_output
    from ..device import resolve_device
    from ..photosphere import read_photosphere, resize, write_photosphere
    from ..progress import progress
    from ..upscale import choose_sr_model, upscale_equirect, upscale_flat

    src, dst = Path(args.input), Path(args.output)
    check_output(dst, inputs=[src], overwrite=args.overwrite)  # before the long part, not after
    ps = read_photosphere(src, flat=args.flat)
    device = resolve_device(args.device)
    model = args.sr
    if model == "auto":
        model, why = choose_sr_model(device)
        if not args.quiet:
            print(f"super-resolution: {model} ({why})")
    fn = upscale_flat if args.flat else upscale_equirect
    img = torch.from_numpy(ps.pixels).permute(2, 0, 1)[None]
    budget = None if args.memory_budget is None else int(args.memory_budget * 2**30)
    with progress(None, f"upscaling x{args.scale}", args.quiet, unit="tile") as bar:

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        out = fn(
            img,
            args.scale,
            model,
            device=device,
            tile=args.tile,
            memory_budget=budget,
            progress=step,
            weights=args.sr_weights,
            precision=args.precision,
        )
    del img
    pixels = out[0].permute(1, 2, 0).numpy()  # a view: no second full-size copy
    mask = None
    if dst.suffix.lower() in (".png", ".webp") and float(ps.mask.min()) < 1.0:
        mask = resize(ps.mask, pixels.shape[1::-1])
    path = write_photosphere(
        dst,
        pixels,
        ps,
        mask=mask,
        quality=args.quality,
        overwrite=args.overwrite,
        inputs=[src],
        vrdream=provenance(ps.vrdream, src, dst, model, args.scale),
    )
    if not args.quiet:
        print(path)
    return 0


def provenance(fields: dict[str, str], src: Path, dst: Path, model: str, scale: int) -> dict[str, str]:
    """The input's vrdream fields for the output: ``Raw`` re-pointed from the output's folder, and the SR step."""
    out = {"Upscale": f"{model} x{scale}"}
    if "Raw" in fields:
        raw = Path(fields["Raw"])
        raw = raw if raw.is_absolute() else (src.resolve().parent / raw).resolve()
        try:
            out["Raw"] = os.path.relpath(raw, dst.resolve().parent)
        except ValueError:  # another drive on Windows
            out["Raw"] = str(raw)
    else:  # an undreamed panorama: the input itself is the raw
        out["Kind"] = "upscale"
    return out
