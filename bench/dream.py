"""Seconds per dream step for each bundled backbone at 512² and 1024², and the fraction of the
machine's dense-matmul ceiling that the step reaches.

A dream step is one forward and backward pass to the input (``input_gradient``) at the backbone's
default layer, untiled. FLOPs are counted by ``torch.utils.flop_counter`` on the same call; the
ceiling is a 2048² fp32 matmul measured in the same run with the same thread count.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import best_of, matmul_flops, write_results
from vrdream.backbones import create_backbone, list_backbones
from vrdream.dream import DreamSettings
from vrdream.gradient import input_gradient
from vrdream.objective import LayerActivation

SIZES = (512, 1024)


def main() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        ceiling = matmul_flops(device)
        for spec in (s for s in list_backbones() if s.weights_source.startswith("bundled")):
            # the layout the engine runs in (DreamSettings.channels_last)
            net = create_backbone(spec.name, device=device, channels_last=DreamSettings().channels_last)
            obj = LayerActivation(spec.default_layer)
            for size in SIZES:
                x = torch.rand(1, 3, size, size, device=device)
                with FlopCounterMode(display=False) as counter:
                    input_gradient(net, obj, x)
                flops = counter.get_total_flops()
                seconds = best_of(lambda: input_gradient(net, obj, x), repeat=2, sync=sync)
                rows.append(
                    {
                        "device": device,
                        "threads": torch.get_num_threads(),
                        "backbone": spec.name,
                        "layer": spec.default_layer,
                        "size": size,
                        "s_per_step": seconds,
                        "gflop_per_step": flops / 1e9,
                        "gflops": flops / seconds / 1e9,
                        "ceiling_gflops": ceiling / 1e9,
                        "of_ceiling": flops / seconds / ceiling,
                    }
                )
                print(rows[-1], flush=True)
    notes = (
        "Target: >= 40% of the matmul ceiling at 1024². EfficientNet-Lite is mostly depthwise 3x3/5x5 "
        "convolutions and pointwise convolutions on thin tensors: memory-bound work that no matmul "
        "ceiling describes; its counted FLOPs are few, so its fraction of the ceiling is low even when "
        "the step is fast. Inception-v3's dense convolutions come closer."
    )
    write_results("dream", rows, notes)


if __name__ == "__main__":
    main()
