"""Reader for ncnn models (``.param`` text + ``.bin`` weights), for converting them to PyTorch.

Hand-written because the ncnn Python package is a runtime, not a file reader, and the format is small:

- ``.param``: a magic line ``7767517``, ``layer_count blob_count``, then one line per layer in
  execution order: ``Type Name n_bottom n_top bottom… top… key=value…``. Keys are integers;
  a negative key ``-23300-k`` is an array for key ``k`` written ``count,v1,v2,…``.
- ``.bin``: the weights of the layers that have any, in ``.param`` order, no header. A
  Convolution/Deconvolution stores its weight as a 4-byte storage tag followed by the data
  (tag ``0x01306B47``: fp16, padded to 4 bytes; tag ``0``: fp32), then its fp32 bias with no tag.
  A PReLU stores its slopes as fp32 with no tag. The bytes end exactly at the end of the file,
  which :func:`read_weights` checks: a wrong layout cannot go unnoticed.

Only the layer types used by the super-resolution models vrdream ships are read; any other
weighted layer raises, rather than silently shifting every later weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

MAGIC = "7767517"
TAG_FP16 = 0x01306B47
TAG_FP32 = 0
# ncnn layer types that carry no weights in the .bin (those used by the SR models and their kin).
WEIGHTLESS = {
    "Input",
    "Split",
    "Concat",
    "Eltwise",
    "BinaryOp",
    "Interp",
    "PixelShuffle",
    "ReLU",
    "Sigmoid",
    "Crop",
    "Padding",
    "Pooling",
    "UnaryOp",
    "Reshape",
    "Flatten",
    "Noop",
}


@dataclass(frozen=True)
class NcnnLayer:
    """One line of a ``.param`` file; ``params`` maps the integer key to its raw text value."""

    type: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: dict[int, str] = field(default_factory=dict)

    def get_int(self, key: int, default: int | None = None) -> int:
        if key not in self.params:
            if default is None:
                raise KeyError(f"ncnn layer {self.name}: no parameter {key}")
            return default
        return int(self.params[key])


@dataclass(frozen=True)
class NcnnWeights:
    """The weights of one layer: ``weight`` is (out, in, kh, kw) for (de)convolutions as stored by
    ncnn, (n,) slopes for PReLU; ``bias`` is (out,) or None."""

    layer: NcnnLayer
    weight: np.ndarray
    bias: np.ndarray | None


def read_param(path: str | Path) -> list[NcnnLayer]:
    """Layers of an ncnn ``.param`` file, in file (= execution) order."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines or lines[0] != [MAGIC]:
        raise InputError(path, f"not an ncnn .param file (first line is not {MAGIC})")
    layers = []
    for words in lines[2:]:
        kind, name, nb, nt = words[0], words[1], int(words[2]), int(words[3])
        blobs = words[4 : 4 + nb + nt]
        params = {}
        for kv in words[4 + nb + nt :]:
            key, _, value = kv.partition("=")
            k = int(key)
            params[-k - 23300 if k <= -23300 else k] = value
        layers.append(NcnnLayer(kind, name, tuple(blobs[:nb]), tuple(blobs[nb:]), params))
    if len(layers) != int(lines[1][0]):
        raise InputError(path, f"declares {lines[1][0]} layers but lists {len(layers)}")
    return layers


def _tagged(buf: memoryview, pos: int, count: int, path: Path) -> tuple[np.ndarray, int]:
    """Read ``count`` values stored with a 4-byte storage tag; return them as float32 and the new offset."""
    tag = int(np.frombuffer(buf, np.uint32, 1, pos)[0])
    pos += 4
    if tag == TAG_FP16:
        data = np.frombuffer(buf, np.float16, count, pos).astype(np.float32)
        return data, pos + (count * 2 + 3) // 4 * 4
    if tag == TAG_FP32:
        return np.frombuffer(buf, np.float32, count, pos).copy(), pos + count * 4
    raise InputError(
        path, f"unsupported ncnn weight storage tag {tag:#x} at byte {pos - 4} (quantized models are not read)"
    )


def _raw32(buf: memoryview, pos: int, count: int) -> tuple[np.ndarray, int]:
    return np.frombuffer(buf, np.float32, count, pos).copy(), pos + count * 4


def read_weights(param_path: str | Path, bin_path: str | Path) -> list[NcnnWeights]:
    """The weighted layers of an ncnn model with their weights, in order.

    Raises :class:`InputError` on a layer type it cannot read or when the byte count does not end
    exactly at the end of the ``.bin`` (the check that the layout was understood).
    """
    bin_path = Path(bin_path)
    buf = memoryview(bin_path.read_bytes())
    pos, out = 0, []
    for layer in read_param(param_path):
        if layer.type in ("Convolution", "Deconvolution"):
            n_out, k = layer.get_int(0), layer.get_int(1)
            kh, size = layer.get_int(11, k), layer.get_int(6)
            try:
                weight, pos = _tagged(buf, pos, size, bin_path)
                bias = None
                if layer.get_int(5, 0):
                    bias, pos = _raw32(buf, pos, n_out)
            except ValueError as exc:  # np.frombuffer past the end
                raise InputError(bin_path, f"ends inside the weights of layer {layer.name}") from exc
            out.append(NcnnWeights(layer, weight.reshape(n_out, size // (n_out * k * kh), kh, k), bias))
        elif layer.type == "PReLU":
            slope, pos = _raw32(buf, pos, layer.get_int(0, 1))
            out.append(NcnnWeights(layer, slope, None))
        elif layer.type not in WEIGHTLESS:
            raise InputError(param_path, f"layer {layer.name}: ncnn layer type {layer.type} is not supported")
    if pos != len(buf):
        raise InputError(
            bin_path, f"weights end at byte {pos} but the file has {len(buf)} bytes: layout not understood"
        )
    return out
