"""Teddy vs the unrolled bi-level baseline: memory and time of one distillation iteration as K grows.

Side by side in one process, on the same data, network and synthetic set: the unrolled gradient
(K differentiable inner steps), the Taylor form along a K-point trajectory, and one Teddy iteration
(one pool model, class-wise matching). Memory is the exact peak of bytes held for backward
(saved-tensor hooks) on any device, plus the CUDA allocator's peak on a GPU. Prints the ratios.

    python benchmarks/teddy.py                     # auto device, K = 1 2 5 10 20
    python benchmarks/teddy.py --device cpu --ks 10 20 --size 16

Target (issue 4): Teddy's memory flat in K and at least 5x below unrolled at K=20.
"""
from __future__ import annotations

import argparse
import os

import torch

from paperlib.core import device_name, pick_device, seed_everything
from paperlib.teddy import ConvNet, Pool, cost_sweep, load_real, weights_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--size", type=int, default=16, help="image side (digits resized)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    seed_everything(0)
    train, _, _ = load_real(None, args.size)
    make = lambda: ConvNet(1, args.width, 10, args.size)
    pool = Pool([weights_of(make())], ["init"])  # the cost of an iteration does not depend on which model
    rows = cost_sweep(make, train, pool, ipc=args.ipc, Ks=args.ks, inner_lr=1.0, real_batch=256, class_batch=32,
                      device=dev, repeats=args.repeats)
    print(f"device: {device_name(dev)}; digits {args.size}x{args.size}, ConvNet width {args.width}, IPC {args.ipc}")
    print(f"{'K':>3} | {'unrolled MB':>11} {'Taylor-K MB':>11} {'Teddy MB':>9} {'mem ratio':>9} | "
          f"{'unrolled ms':>11} {'Taylor-K ms':>11} {'Teddy ms':>9} {'time ratio':>10}"
          + (" | cuda unrolled/Teddy" if dev.type == "cuda" else ""))
    for r in rows:
        line = (f"{r['K']:>3} | {r['unrolled_bytes'] / 2**20:>11.2f} {r['taylor_bytes'] / 2**20:>11.2f} "
                f"{r['teddy_bytes'] / 2**20:>9.2f} {r['unrolled_bytes'] / r['teddy_bytes']:>8.1f}x | "
                f"{1e3 * r['unrolled_seconds']:>11.1f} {1e3 * r['taylor_seconds']:>11.1f} "
                f"{1e3 * r['teddy_seconds']:>9.1f} {r['unrolled_seconds'] / r['teddy_seconds']:>9.1f}x")
        if dev.type == "cuda":
            line += f" | {r['unrolled_cuda_bytes'] / max(r['teddy_cuda_bytes'], 1):.1f}x"
        print(line)
    flat = len({r["taylor_bytes"] for r in rows}) == 1
    last = rows[-1]
    ratio = last["unrolled_bytes"] / last["teddy_bytes"]
    print(f"Taylor-form memory flat in K: {'yes' if flat else 'NO'}")
    print(f"unrolled / Teddy memory at K={last['K']}: {ratio:.1f}x "
          f"({'meets' if ratio >= 5 else 'misses'} the 5x target)")


if __name__ == "__main__":
    main()
