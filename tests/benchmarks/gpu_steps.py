"""Benchmark (not a timed test): ganbench's training step against the minimal plain-PyTorch loop doing the same work
(ganbench.speed.minimal_loop) on a GPU, for the two image networks the GPU suites train, in fp32 and with the fast
paths (bf16 autocast, channels-last, torch.compile):

    python tests/benchmarks/gpu_steps.py --out DIR [--steps 200] [--repeats 3] [--warmup 20] [--images N]
        [--fast fp32 ...] [--nets DCGAN-64 ...] [--device cuda]

- DCGAN-64: the dcgan architecture (width 64) at 64x64 RGB, z 100, batch 64 (celeba's and the tricks suites' net);
- SNGAN-CIFAR: the standard CNN of Miyato et al. (sndcgan, d_channels miyato) at 32x32 RGB, z 128, batch 64
  (sngan-cifar10's net), with the non-saturating loss (the minimal loop is the plain GAN: no spectral-norm trick).

Both train on a folder of random RGB images written first (`imagefolder:DIR@64` / `@32`): a step's cost does not
depend on what the pixels show, and no data set is downloaded. Each configuration times ganbench's loop (statistics
off), ganbench with its statistics every log_every steps, and the minimal loop, in alternating order, each freshly
built, after a warm-up, the GPU's queue drained before and after. Writes DIR/gpu_steps.json and prints a table."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

NETS = {
    "DCGAN-64": ({"arch": "dcgan", "z_dim": 100, "batch_size": 64}, 64),
    "SNGAN-CIFAR": ({"arch": "sndcgan", "arch_options": {"d_channels": "miyato"}, "z_dim": 128, "batch_size": 64}, 32),
}
FAST = {"fp32": {}, "bf16+channels_last": {"amp": True, "channels_last": True},
        "bf16+channels_last+compile": {"amp": True, "channels_last": True, "compile": True}}


def write_images(root: Path, n: int) -> None:
    rng = np.random.RandomState(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n // 2):
            img = np.clip(rng.randint(0, 256, size=(1, 1, 3)) + rng.randint(-30, 30, size=(72, 72, 3)), 0, 255)
            Image.fromarray(img.astype(np.uint8)).save(root / c / f"{i}.png")


def measure(fields: dict, fast: dict, steps: int, repeats: int, warmup: int, device: str = "cuda",
            with_stats: bool = True) -> dict[str, list[float]]:
    from ganbench import speed
    from ganbench.spec import build_spec

    spec = build_spec({"loss": "ns", "seed": 0, **fields})
    spec = replace(spec, steps=max(spec.steps, (steps + warmup) * 2))
    make = {"ganbench": lambda: speed.ganbench_loop(spec, device, stats=False, **fast),
            "ganbench+stats": lambda: speed.ganbench_loop(spec, device, stats=True, **fast),
            "minimal": lambda: speed.minimal_loop(spec, device, **fast)}
    if not with_stats:
        del make["ganbench+stats"]
    seconds: dict[str, list[float]] = {k: [] for k in make}
    for r in range(repeats):
        for k in make if r % 2 == 0 else reversed(list(make)):
            seconds[k].append(speed.time_loop(make[k](), steps, warmup, device))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--fast", nargs="*", default=list(FAST), choices=list(FAST))
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=list(NETS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--warmup", type=int, default=20, help="steps before timing (compiled loops: 10 more)")
    args = parser.parse_args()
    from ganbench.registry import load_builtins

    load_builtins()
    torch.backends.cudnn.benchmark = True
    folder = Path("/tmp/gpu_steps_images")
    write_images(folder, args.images)
    args.out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else args.device
    results = {"torch": torch.__version__, "device": name, "python": sys.version.split()[0],
               "steps": args.steps, "repeats": args.repeats, "cells": []}
    print(f"{results['device']}, torch {results['torch']}; ms per step (median of {args.repeats}), ratio ganbench / "
          "minimal", flush=True)
    for fast_name in args.fast:
        for net in args.nets:
            fields, size = NETS[net]
            compile_ = "compile" in fast_name
            t0 = time.perf_counter()
            seconds = measure({"dataset": f"imagefolder:{folder}@{size}", **fields}, FAST[fast_name], args.steps,
                              1 if compile_ else args.repeats, args.warmup + (10 if compile_ else 0), args.device,
                              with_stats=not compile_)  # a third compiled loop would not fit the lease
            ms = {k: 1000 * statistics.median(v) / args.steps for k, v in seconds.items()}
            cell = {"net": net, "fast": fast_name, "ms_per_step": ms, "seconds": seconds,
                    "ratio": ms["ganbench"] / ms["minimal"], "wall_s": time.perf_counter() - t0}
            if "ganbench+stats" in ms:
                cell["ratio_stats"] = ms["ganbench+stats"] / ms["minimal"]
            results["cells"].append(cell)
            (args.out / "gpu_steps.json").write_text(json.dumps(results, indent=1))
            print(f"{net:12s} {fast_name:27s} " + "  ".join(f"{k} {v:.2f}" for k, v in ms.items())
                  + f"  ratio {cell['ratio']:.3f}" + (f" (stats {cell['ratio_stats']:.3f})" if "ratio_stats" in cell
                                                    else "") + f"  [{cell['wall_s']:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
