"""LinFusion's linear attention against softmax attention: time and peak memory of one call, side by side.

Three kernels on ``q, k, v: (1, 8, N, 64)`` (batch 1, 8 heads, head dim 64), each call in a fresh process
(peak memory = peak RSS over the post-import baseline on CPU, ``max_memory_allocated`` on CUDA):
``softmax`` (the N x N matrix materialised, as the paper measured), ``sdpa`` (PyTorch's fused kernel) and
``linear`` (LinFusion). Prints a table and the ratios the issue sets targets for:

    linear >= 10x faster than fused SDPA at the largest N;
    linear's time within 1.3x of linear growth from 4k to the largest N;
    linear's peak memory >= 10x below materialised softmax at 8k, and within 2x of SDPA's.

Usage: ``python benchmarks/linfusion.py [--tokens 4096 8192 16384 65536] [--softmax-max 8192]
[--device auto] [--threads 1]``. The materialised softmax is skipped above ``--softmax-max``: at 64k tokens
its two N x N float32 matrices need 2 x 8 x 65536^2 x 4 bytes = 275 GB.
"""
from __future__ import annotations

import argparse
import sys

from paperlib.core import pick_device
from paperlib.linfusion.scaling import loglog_slope, measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[4096, 8192, 16384, 65536])
    parser.add_argument("--softmax-max", type=int, default=8192)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per call (default 1: stable on shared machines)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    tokens = sorted(set(args.tokens))
    rows = {}
    for n in tokens:
        for kernel in ("softmax", "sdpa", "linear"):
            if kernel == "softmax" and n > args.softmax_max:
                continue
            m = measure(kernel, n, args.heads, args.head_dim, device=str(device), threads=args.threads,
                        time_budget=2.0, max_repeats=5, timeout=1800)
            rows[(kernel, n)] = m
            shown = "failed: " + m.error if m.error else f"{m.seconds:9.4f} s  {m.peak_bytes / 2**20:9.1f} MiB"
            print(f"{kernel:>8} N={n:>6}: {shown}", flush=True)

    def get(kernel, n, what):
        m = rows.get((kernel, n))
        return None if m is None or m.error else getattr(m, what)

    print(f"\ndevice: {device} ({args.heads} heads, head dim {args.head_dim}, batch 1); time = best of up to 5 "
          "calls, memory = peak over the post-import baseline")
    print(f"{'N':>7} | {'softmax s':>10} {'sdpa s':>10} {'linear s':>10} | {'sdpa/lin':>9} {'soft/lin':>9} | "
          f"{'softmax MiB':>11} {'sdpa MiB':>9} {'linear MiB':>10} | {'soft/lin':>8} {'lin/sdpa':>8}")
    fmt = lambda v, f: "skipped" if v is None else format(v, f)
    for n in tokens:
        t = {k: get(k, n, "seconds") for k in ("softmax", "sdpa", "linear")}
        b = {k: get(k, n, "peak_bytes") for k in ("softmax", "sdpa", "linear")}
        mib = {k: None if v is None else v / 2**20 for k, v in b.items()}
        ratio = lambda a, c: None if a is None or c is None else a / c
        print(f"{n:>7} | {fmt(t['softmax'], '10.4f'):>10} {fmt(t['sdpa'], '10.4f'):>10} {fmt(t['linear'], '10.4f'):>10} | "
              f"{fmt(ratio(t['sdpa'], t['linear']), '9.1f'):>9} {fmt(ratio(t['softmax'], t['linear']), '9.1f'):>9} | "
              f"{fmt(mib['softmax'], '11.1f'):>11} {fmt(mib['sdpa'], '9.1f'):>9} {fmt(mib['linear'], '10.1f'):>10} | "
              f"{fmt(ratio(b['softmax'], b['linear']), '8.1f'):>8} {fmt(ratio(b['linear'], b['sdpa']), '8.2f'):>8}")
    skipped = [n for n in tokens if n > args.softmax_max]
    if skipped:
        print(f"materialised softmax skipped at N = {skipped}: its N x N matrices do not fit in memory "
              f"({2 * args.heads * max(skipped) ** 2 * 4 / 1e9:.0f} GB at N = {max(skipped)})")

    largest, smallest = tokens[-1], tokens[0]
    mem_n = 8192 if 8192 in tokens else min(n for n in tokens if n <= args.softmax_max)
    checks = []
    speed = (get("sdpa", largest, "seconds") or 0) / (get("linear", largest, "seconds") or float("inf"))
    checks.append((f"linear vs fused SDPA at {largest}: {speed:.1f}x faster (target >= 10x)", speed >= 10))
    t0, t1 = get("linear", smallest, "seconds"), get("linear", largest, "seconds")
    if t0 and t1:
        growth = (t1 / t0) / (largest / smallest)
        slope = loglog_slope([smallest, largest], [t0, t1])
        checks.append((f"linear's time growth {smallest}->{largest}: {growth:.2f}x linear growth "
                       f"(log-log slope {slope:.2f}; target <= 1.3x)", growth <= 1.3))
    bs, bl, bd = (get(k, mem_n, "peak_bytes") for k in ("softmax", "linear", "sdpa"))
    if bs and bl:
        checks.append((f"peak memory at {mem_n}: materialised softmax / linear = {bs / bl:.1f}x (target >= 10x)",
                        bs / bl >= 10))
    if bd and bl:
        checks.append((f"peak memory at {mem_n}: linear / SDPA = {bl / bd:.2f}x (target <= 2x)", bl / bd <= 2))
    print()
    for text, ok in checks:
        print(("PASS " if ok else "MISS ") + text)
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
