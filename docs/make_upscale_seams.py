"""docs/upscale_seams.md (+ .json): the seam metric (../shared/tools/seam_score.py) on x4 super-resolved
dreams of the sample, and what it reads on super-resolution alone; docs/upscale_seams.png: the first
dream (the CPU's defaults) seen along every edge (the tool's --sheet).

    python docs/make_upscale_seams.py [--models M,M] [--seeds 0,1,2] [--rrdb-seeds 0]

1. ``vrdream dream samples/mars.jpg --upscale 4 --sr M --seed S``, scored two ways: by the tool as it
   is (it makes its reference with PIL's bicubic, which stops at the image border instead of wrapping
   round the 0/360 seam) and against a bicubic reference made on the sphere (wrap-padded), passed to
   the tool as RAW.
2. What the metric reads where no seam can be: stationary white noise, and each model's upscale of the
   undreamed sample at its real cube edges against meridians turned 22.5/45/67.5 degrees away (the
   upscale is the same at every longitude: it tiles the equirect with a wrap, knowing nothing of a
   cube); and the sample turned 45 degrees before the upscale, to see the readings follow the content.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

DOCS = Path(__file__).parent
ROOT = DOCS.parent
SAMPLE = ROOT / "vrdream" / "samples" / "mars.jpg"
SEAM_TOOL = ROOT.parent / "shared" / "tools" / "seam_score.py"
SCALE = 4


def load_tool():
    spec = importlib.util.spec_from_file_location("seam_score", SEAM_TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def sphere_bicubic(src: Path, dst: Path, pad: int = 8) -> Path:
    """``src`` upscaled x4 by PIL's bicubic, as the tool does, but wrapping at 0/360: the panorama is
    padded with ``pad`` columns from its other side first, and their output cut off."""
    im = np.asarray(Image.open(src).convert("RGB"))
    h, w = im.shape[:2]
    wide = Image.fromarray(np.concatenate([im[:, -pad:], im, im[:, :pad]], 1))
    up = np.asarray(wide.resize(((w + 2 * pad) * SCALE, h * SCALE), Image.BICUBIC))
    Image.fromarray(up[:, pad * SCALE : (pad + w) * SCALE]).save(dst)
    return dst


def vrdream(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vrdream", *args, "--overwrite", "-q"], check=True, cwd=ROOT)


def worst(rows: dict) -> str:
    name = max(rows, key=rows.get)
    return f"{rows[name]:.3f} ({name})"


def edge_rows(tool, diff: np.ndarray) -> dict[str, float]:
    return {name: round(tool.edge_ratio(*tool.edge_views(diff, mid, axis)), 3) for name, mid, axis in tool.edges()}


def meridians(tool, diff: np.ndarray) -> tuple[float, float]:
    """Mean reading of the four vertical cube edges and the wrap, and of the same five meridians
    turned 22.5, 45 and 67.5 degrees (where the pipeline has no edge)."""
    vertical = ("F|R", "R|B", "B|L", "L|F", "wrap")
    rows = [edge_rows(tool, np.roll(diff, k * diff.shape[1] // 16, axis=1)) for k in range(4)]
    real = [rows[0][e] for e in vertical]
    turned = [r[e] for r in rows[1:] for e in vertical]
    return float(np.mean(real)), float(np.mean(turned))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="waifu2x-photo,realesr-animevideov3")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rrdb-seeds", default="0", help="seeds for realesrgan-x4plus (slow on a CPU; '' for none)")
    args = ap.parse_args()
    tool = load_tool()
    work = Path(tempfile.mkdtemp(prefix="vrdream-upscale-seams-"))
    ref = sphere_bicubic(SAMPLE, work / "bicubic.png")
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    face = Image.open(SAMPLE).width // 4  # a canvas of the dream's own density, the default without --upscale
    runs = [(m, s, "") for m in models for s in seeds] + [(models[0], s, str(face)) for s in seeds]
    runs += [("realesrgan-x4plus", int(s), "") for s in args.rrdb_seeds.split(",") if s]
    dreams = []
    for model, seed, face_size in runs:
        out = work / f"{model}-{seed}.png"
        vrdream(
            "dream",
            str(SAMPLE),
            "-o",
            str(out),
            "--upscale",
            str(SCALE),
            "--sr",
            model,
            "--seed",
            str(seed),
            *(["--face-size", face_size] if face_size else []),
        )
        as_is, sphere = tool.seam_score(str(SAMPLE), str(out))[1], tool.seam_score(str(ref), str(out))[1]
        canvas = f"{face_size} (1x)" if face_size else "default (1.25x)"
        dreams.append(
            {
                "model": model,
                "seed": seed,
                "canvas face": canvas,
                "tool as is": as_is,
                "sphere bicubic reference": sphere,
            }
        )
        print(model, seed, canvas, worst(as_is), worst(sphere), flush=True)
        if not dreams[:-1]:  # the first: the CPU's default model and canvas, seen along every edge
            tool.write_sheet(str(out), str(DOCS / "upscale_seams.png"))
        out.unlink()

    rng = np.random.default_rng(0)
    h, w = np.asarray(Image.open(ref)).shape[:2]
    noise = edge_rows(tool, rng.standard_normal((h, w)).astype(np.float32))
    print("white noise", noise, flush=True)
    alone = {}
    base = tool.grey(str(ref))
    for model in args.models.split(","):
        out = work / f"alone-{model}.png"
        vrdream("upscale", str(SAMPLE), "-o", str(out), "--scale", str(SCALE), "--sr", model)
        real, turned = meridians(tool, tool.grey(str(out)) - base)
        alone[model] = {"real meridians": round(real, 3), "turned meridians": round(turned, 3)}
        print(model, alone[model], flush=True)
    # the sample turned 45 degrees (its stitching step at the wrap moves onto the B|L edge), then upscaled
    model = args.models.split(",")[0]
    pixels = np.asarray(Image.open(SAMPLE).convert("RGB"))
    Image.fromarray(np.roll(pixels, pixels.shape[1] // 8, axis=1)).save(work / "turned.png")
    vrdream(
        "upscale", str(work / "turned.png"), "-o", str(work / "turned_up.png"), "--scale", str(SCALE), "--sr", model
    )
    turned_ref = tool.grey(str(sphere_bicubic(work / "turned.png", work / "turned_bicubic.png")))
    turned = edge_rows(tool, tool.grey(str(work / "turned_up.png")) - turned_ref)
    straight = edge_rows(tool, tool.grey(str(work / f"alone-{model}.png")) - base)

    results = {
        "dreams": dreams,
        "white noise": noise,
        "upscale alone": alone,
        "turned 45 degrees": {"model": model, "straight": straight, "turned": turned},
    }
    (DOCS / "upscale_seams.json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Seam metric on x4 super-resolved panoramas",
        "",
        "Made by `python docs/make_upscale_seams.py` (../shared/tools/seam_score.py; 1.0 is seamless, the "
        "issue's bound 1.25). Sample: samples/mars.jpg (1536x768) -> 6144x3072.",
        "",
        "## `vrdream dream samples/mars.jpg --upscale 4 --sr MODEL --seed S`",
        "",
        "| model | seed | canvas face (density) | worst edge, tool as is | wrap, tool as is "
        "| worst edge, sphere-bicubic reference | wrap, sphere-bicubic reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in dreams:
        a, s = d["tool as is"], d["sphere bicubic reference"]
        lines.append(
            f"| {d['model']} | {d['seed']} | {d['canvas face']} | {worst(a)} | {a['wrap']:.3f} | {worst(s)} "
            f"| {s['wrap']:.3f} |"
        )
    lines += [
        "",
        "The tool as is makes its reference with PIL's bicubic, whose kernel stops at the image border: "
        "across the 0/360 seam its reference keeps the raw's columns apart, ours (and any seamless upscale) "
        "interpolates across them. The sphere-bicubic reference wraps, as the upscale does. With `--upscale` the "
        "dream's cube canvas is 1.25x finer than the dream width (vrdream.sphere.SR_CANVAS_DENSITY); the "
        "'(1x)' rows pass `--face-size` to dream at the dream width's own density instead. The GAN-trained "
        "models (realesr-animevideov3, realesrgan-x4plus) still read 1.29-1.31 on the finer canvas, at B|U "
        "in two of the four runs, where white noise reads 1.01 (below), so not only through the metric's "
        "bias: their sharpening keeps a faint trace of the edges. waifu2x-photo, the CPU's `--sr auto`, "
        "reads 1.18-1.22.",
        "",
        "## What the metric reads where no seam can be",
        "",
        f"- Stationary white noise at {w}x{h}: F|R {noise['F|R']:.3f}, wrap {noise['wrap']:.3f}, "
        f"worst {worst(noise)}. The metric's views sample the panorama at its own pixel pitch, so at the "
        "centre column they hit pixel centres and elsewhere interpolate between them (bilinear), which "
        "damps near-Nyquist detail away from the centre: fine detail reads as an edge at every vertical "
        "meridian (the horizontal edges' views, curved across the pixel grid, read about 1.0).",
        "- Super-resolution alone (upscale of the undreamed sample, against the sphere-bicubic reference): "
        "mean reading at the four vertical cube edges and the wrap, and at the same meridians turned "
        "22.5/45/67.5 degrees, where the pipeline has no edge:",
        "",
    ]
    lines += ["| model | real meridians | turned meridians |", "|---|---|---|"]
    lines += [f"| {m} | {v['real meridians']:.3f} | {v['turned meridians']:.3f} |" for m, v in alone.items()]
    lines += [
        "",
        f"- The sample turned 45 degrees before upscaling ({model}): its stitching step moves from the wrap "
        f"to the B|L edge, and so does the reading: wrap {straight['wrap']:.3f} -> {turned['wrap']:.3f}, "
        f"B|L {straight['B|L']:.3f} -> {turned['B|L']:.3f}.",
        "",
    ]
    (DOCS / "upscale_seams.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
