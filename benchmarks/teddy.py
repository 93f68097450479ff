"""Teddy vs the unrolled bi-level baseline: memory, FLOPs and time of one distillation iteration as K grows.

Side by side in one process, on the same data, network and synthetic set: the unrolled gradient (K differentiable
inner steps, all classes in one graph), the Taylor form along a K-point trajectory (all classes in one
single-step graph at a time) and one Teddy iteration (one pool model, one class at a time). Memory is the exact
peak of bytes held for backward (saved-tensor hooks) on any device, plus the CUDA allocator's peak on a GPU;
FLOPs are counted; times are the median of three calls (recorded, not judged).

    .venv/bin/python benchmarks/teddy.py --size cpu      # K = 1 2 5 10 20, 16x16 digits, ConvNet width 32, IPC 10
    .venv/bin/python benchmarks/teddy.py --size smoke    # seconds

Targets (issue 22): the Taylor form's bytes flat in K, and at least 5x below unrolled at K = 20, both for the Taylor
expansion alone and for a Teddy iteration (which adds per-class chunking).
"""
from __future__ import annotations

import torch

from paperlib.core import pick_device, seed_everything
from paperlib.core.bench import Bench, bench_arguments
from paperlib.teddy import ConvNet, Pool, cost_sweep, load_real, weights_of

SIZES = {"smoke": dict(ks=(1, 3), size=8, width=8, ipc=2), "cpu": dict(ks=(1, 2, 5, 10, 20), size=16, width=32, ipc=10)}


def main() -> None:
    args = bench_arguments(__doc__)
    dev = pick_device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    size = SIZES["smoke" if args.size == "smoke" else "cpu"]
    seed_everything(0)
    train, _, _ = load_real(None, size["size"])
    make = lambda: ConvNet(1, size["width"], 10, size["size"])
    pool = Pool([weights_of(make())], ["init"])  # the cost of an iteration does not depend on which model
    rows = cost_sweep(make, train, pool, ipc=size["ipc"], Ks=size["ks"], inner_lr=1.0, real_batch=256,
                      class_batch=32, device=dev)
    bench = Bench("teddy", args.size, dev, args.out)
    print(f"digits {size['size']}x{size['size']}, ConvNet width {size['width']}, IPC {size['ipc']}, on {dev}")
    for r in rows:
        row = bench.row(K=r["K"], **{f"{name}_mb": r[f"{name}_bytes"] / 2**20 for name in ("unrolled", "taylor", "teddy")},
                        **{f"{name}_gflop": r[f"{name}_flops"] / 1e9 for name in ("unrolled", "taylor", "teddy")},
                        **{f"{name}_ms": 1e3 * r[f"{name}_seconds"] for name in ("unrolled", "taylor", "teddy")},
                        **({f"{name}_cuda_mb": r[f"{name}_cuda_bytes"] / 2**20 for name in ("unrolled", "taylor", "teddy")}
                           if dev.type == "cuda" else {}))
        print(f"K={row['K']:>3} | MiB unrolled {row['unrolled_mb']:.2f}, Taylor {row['taylor_mb']:.2f}, Teddy "
              f"{row['teddy_mb']:.2f} | GFLOP {row['unrolled_gflop']:.3f} / {row['taylor_gflop']:.3f} / "
              f"{row['teddy_gflop']:.3f} | ms {row['unrolled_ms']:.1f} / {row['taylor_ms']:.1f} / {row['teddy_ms']:.1f}")
    bench.figure(x="K", ys=("unrolled_mb", "taylor_mb", "teddy_mb"), ylabel="MiB held for backward",
                 title="one distillation iteration: memory vs inner steps K")
    bench.figure(x="K", ys=("unrolled_ms", "taylor_ms", "teddy_ms"), ylabel="ms per outer iteration",
                 title="one distillation iteration: time vs inner steps K")
    first, last = bench.rows[0], bench.rows[-1]
    taylor = [row["taylor_mb"] for row in bench.rows]
    bench.ratio("taylor_flat", max(taylor) / min(taylor), target=1.0, higher_is_better=False,
                statement=f"Taylor form's bytes at the largest over the smallest K ({first['K']}..{last['K']})")
    bench.ratio("taylor_vs_unrolled", last["unrolled_mb"] / last["taylor_mb"], target=5,
                statement=f"unrolled / Taylor form (alone) bytes at K={last['K']}")
    bench.ratio("teddy_vs_unrolled", last["unrolled_mb"] / last["teddy_mb"], target=5,
                statement=f"unrolled / Teddy iteration (Taylor form + per-class chunking) bytes at K={last['K']}")
    bench.save()


if __name__ == "__main__":
    main()
