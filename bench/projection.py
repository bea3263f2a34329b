"""Equirect <-> cube map: vrdream's torch path against py360convert, 8192x4096 panorama, faces 2048.

Both are timed in the same run on float32 RGB (the pipeline's working format), on the CPU with the
same thread count, and on CUDA when there is one. "warm" means the sampling maps are already
built: py360convert caches them itself (lru_cache on its samplers), vrdream takes them as an
argument (``e2c_grid`` / ``c2e_grid``, computed once); "cold" includes building them.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import py360convert
import torch
import torch.nn.functional as F
from PIL import Image
from py360convert import utils as p3u

from bench.common import best_of, peak_rss_mb, write_results
from vrdream.cubemap import c2e, c2e_grid, e2c, e2c_grid

H, W, N = 4096, 8192, 2048


def panorama() -> np.ndarray:
    """(H, W, 3) float32: the repo's sample panorama upscaled to 8192x4096 (the benchmark needs no shared data)."""
    from pathlib import Path

    small = np.asarray(Image.open(Path(__file__).resolve().parent.parent / "samples" / "mars.jpg").convert("RGB"))
    t = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
    big = F.interpolate(t, size=(H, W), mode="bicubic", align_corners=False).clamp(0, 1)
    return np.ascontiguousarray(big[0].permute(1, 2, 0).numpy())


def clear_py360_caches() -> None:
    """Empty py360convert's sampler caches so that its next call rebuilds its maps."""
    for cached in (p3u.EquirecSampler.from_cubemap, p3u.CubeFaceSampler.from_equirec):
        cached.__func__.cache_clear()
    for cached in (p3u.xyzcube, p3u.equirect_uvgrid, p3u.equirect_facetype):
        cached.cache_clear()


def once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    rows: list[dict] = []
    img = panorama()
    faces_np = py360convert.e2c(img, N, cube_format="list")  # also what c2e reads below
    threads = torch.get_num_threads()

    def row(op: str, impl: str, device: str, seconds: float, base: float | None) -> None:
        rows.append({"op": op, "impl": impl, "device": device, "threads": threads, "seconds": seconds,
                     "vs py360convert warm": base / seconds if base else ""})

    # py360convert (CPU only): cold, then warm with its own caches.
    clear_py360_caches()
    py_e2c_cold = once(lambda: py360convert.e2c(img, N, cube_format="list"))
    py_e2c = best_of(lambda: py360convert.e2c(img, N, cube_format="list"), repeat=3)
    clear_py360_caches()
    py_c2e_cold = once(lambda: py360convert.c2e(faces_np, H, W, cube_format="list"))
    py_c2e = best_of(lambda: py360convert.c2e(faces_np, H, W, cube_format="list"), repeat=3)
    row("e2c", "py360convert cold", "cpu", py_e2c_cold, py_e2c)
    row("e2c", "py360convert warm", "cpu", py_e2c, py_e2c)
    row("c2e", "py360convert cold", "cpu", py_c2e_cold, py_c2e)
    row("c2e", "py360convert warm", "cpu", py_c2e, py_c2e)

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        equi = torch.from_numpy(img).permute(2, 0, 1)[None].to(dev)
        faces = torch.from_numpy(np.stack(faces_np)).permute(0, 3, 1, 2)[None].to(dev)
        with torch.inference_mode():
            row("e2c", "vrdream cold", dev, best_of(lambda: e2c(equi, N), repeat=2, sync=sync), py_e2c)
            grid = e2c_grid(H, W, N, device=dev)
            row("e2c", "vrdream warm", dev, best_of(lambda: e2c(equi, N, grid=grid), repeat=3, sync=sync), py_e2c)
            row("e2c", "vrdream cold, padded 2048+2x128", dev,
                best_of(lambda: e2c(equi, N, pad=128), repeat=2, sync=sync), py_e2c)
            del grid
            row("c2e", "vrdream cold", dev, best_of(lambda: c2e(faces, H, W), repeat=2, sync=sync), py_c2e)
            grid = c2e_grid(N, H, W, device=dev)
            row("c2e", "vrdream warm", dev, best_of(lambda: c2e(faces, H, W, grid=grid), repeat=3, sync=sync), py_c2e)
            del grid
    rows[-1]["peak RSS MB"] = round(peak_rss_mb())
    notes = (f"{W}x{H} float32 RGB panorama (samples/mars.jpg upscaled), faces {N}. Threads: torch "
             f"{threads}, OpenCV {cv2.getNumThreads()}. py360convert 1.0 samples with cv2.remap on fixed-point maps "
             "(1/32 pixel), one channel at a time, after np.pad of each channel; vrdream calls "
             "torch.nn.functional.grid_sample once on all channels with float coordinates. The padded row cuts "
             "faces of 2048 + 2x128 (the dream's padded views), grid built in the call. "
             "Ratios > 1: vrdream faster.")
    write_results("projection", rows, notes)


if __name__ == "__main__":
    main()
