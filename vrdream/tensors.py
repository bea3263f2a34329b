"""numpy images ↔ torch tensors: the one layout convention between files and the engine.

Files hold (H, W, C) float32 arrays in [0, 1] (:mod:`vrdream.photosphere`); the engine works on
(B, C, H, W) tensors. These two functions are the only place the axes are turned.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_tensor(pixels: np.ndarray) -> Tensor:
    """(H, W, C) numpy → (1, C, H, W) tensor sharing its memory (no copy when ``pixels`` is contiguous)."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]


def to_numpy(img: Tensor) -> np.ndarray:
    """(1, C, H, W) tensor → (H, W, C) float32 numpy on the CPU (a view when it already is float32 there)."""
    return img[0].permute(1, 2, 0).float().cpu().numpy()
