"""float → uint8: the one quantisation rule of every pixel vrdream writes.

Files, checkpoints, video frames, contact sheets and the viewer's textures all go
through here, so the same float image always becomes the same bytes (bit-identical
stimuli and exact resumes depend on it). The rule: clip to [0, 1], scale by 255,
round half to even. numpy's ``rint`` and torch's ``round`` both round half to even,
so :func:`to_uint8` and :func:`to_uint8_tensor` agree bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

#: Rows converted at a time, so a 16384-wide panorama needs no full-size float temporary.
ROWS_PER_BLOCK = 256


def to_uint8(pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W[, C]) float in [0, 1] (values outside are clipped) → uint8 of the same shape.

    Converted ``ROWS_PER_BLOCK`` rows at a time; ``out`` (uint8, same shape) is filled when given.
    """
    if pixels.dtype == np.uint8:
        if out is None:
            return pixels
        np.copyto(out, pixels)
        return out
    result = np.empty(pixels.shape, np.uint8) if out is None else out
    for r0 in range(0, pixels.shape[0], ROWS_PER_BLOCK):
        block = np.multiply(pixels[r0 : r0 + ROWS_PER_BLOCK], np.float32(255), dtype=np.float32)
        np.clip(block, 0, 255, out=block)
        result[r0 : r0 + ROWS_PER_BLOCK] = np.rint(block, out=block)
    return result


def to_uint8_tensor(pixels: Tensor) -> Tensor:
    """Any-shape float tensor in [0, 1] → uint8 tensor, by :func:`to_uint8`'s rule."""
    # Imported here: numpy users (the viewer) start and exit seconds faster without torch.
    import torch

    return (pixels.float().clamp(0, 1) * 255).round().to(torch.uint8)
