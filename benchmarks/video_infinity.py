"""Video-Infinity cost benchmark: one long video on 1 vs 2 processes, and bytes vs video length.

Prints, side by side: seconds per denoising step, peak memory per process (and the 2-process/1-process
ratio, target ~0.5: memory follows the clip share), the bytes each rank exchanges per step for videos of
growing length (dual scope: flat; full gathering: linear) and the share of the step spent in
collectives. The model is the randomly initialised miniature UNet3DConditionModel (costs need no
trained weights). On this 2-core machine more than 2 processes only measure oversubscription.

    flock /tmp/paperlib-cpu.lock .venv/bin/python benchmarks/video_infinity.py [--frames 32 --size 16]
"""
from __future__ import annotations

import argparse
import json

from paperlib.core import pick_device
from paperlib.video_infinity.experiment import measure_costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=32, help="frames of the timed video")
    ap.add_argument("--size", type=int, default=16, help="latent side")
    ap.add_argument("--steps", type=int, default=3, help="denoising steps timed")
    ap.add_argument("--padding", type=int, default=4)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()
    device = pick_device(args.device).type
    scope = {"padding": args.padding, "top_k": args.top_k}

    lengths = (args.frames // 2, args.frames, args.frames * 2)
    costs, b = measure_costs(args.frames, args.size, args.steps, scope, device, lengths=lengths,
                             bytes_size=max(4, args.size // 2))
    one, two = costs[1][0], costs[2]
    mem2 = max(r["peak_mb"] for r in two)
    t2 = max(r["seconds_per_step"] for r in two)
    comm_share = max(r["comm_seconds_per_step"] / r["seconds_per_step"] for r in two)
    print(f"video: {args.frames} frames, latent {args.size}x{args.size}, {args.steps} steps, {device}")
    print(f"{'':28s}{'1 process':>14s}{'2 processes':>14s}{'ratio':>10s}")
    print(f"{'seconds per step':28s}{one['seconds_per_step']:14.3f}{t2:14.3f}{t2 / one['seconds_per_step']:10.2f}")
    print(f"{'peak memory per process MB':28s}{one['peak_mb']:14.1f}{mem2:14.1f}{mem2 / one['peak_mb']:10.2f}"
          "   (target: ~0.5, the clip share)")
    print(f"{'time in collectives':28s}{'-':>14s}{comm_share:14.1%}")

    print(f"\nbytes per step, rank 0 of 2, latent {max(4, args.size // 2)}:")
    print(f"{'frames':>8s}{'dual scope':>16s}{'full gather':>16s}")
    for f, d, g in zip(b["frames"], b["dual_scope"], b["full_gather"]):
        print(f"{f:8d}{d:16.0f}{g:16.0f}")
    print(f"ratio longest/shortest: dual scope {b['dual_scope'][-1] / b['dual_scope'][0]:.2f} (target 1), "
          f"full gather {b['full_gather'][-1] / b['full_gather'][0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"costs": costs, "bytes": b}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
