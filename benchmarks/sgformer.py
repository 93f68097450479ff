"""SG-Former vs full global attention: latency and peak memory at growing input sizes.

Both models share SG-Former-S's macro design (stem, widths, depths, FFNs, LePE); the baseline replaces
every attention by full multi-head attention over all tokens (``attention="global"``). Attention is
computed with explicit matmuls in both (the official code's way), so memory includes the attention
weights. SG-Former is built for 224 and keeps its key/value counts at larger inputs.

For each size the script prints latency and peak memory of both, their ratio, and the growth exponent
``k`` in ``cost ~ tokens^k`` fitted over the sizes; the check is that SG-Former grows clearly slower
than quadratically (k < 1.6) while global attention does not.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated``; on the CPU the peak RSS of a fresh
subprocess over its level after building the model (never the whole-process RSS).

    python benchmarks/sgformer.py                       # CPU, small sizes (minutes on 2 cores)
    python benchmarks/sgformer.py --sizes 224 320 448 640 --batch 8 --device cuda
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch


def build(kind: str):
    import timm

    import paperlib.sgformer  # noqa: F401  (registers the models)

    return timm.create_model("sgformer_s", attention="sg" if kind == "sgformer" else "global").eval()


def measure(kind: str, size: int, batch: int, device: str, repeats: int) -> dict:
    """Latency (median, ms) and peak memory (MiB) of one forward pass, in this process."""
    from paperlib.sgformer import explicit_attention

    dev = torch.device(device)
    model = build(kind).to(dev)
    x = torch.randn(batch, 3, size, size, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    with torch.no_grad(), explicit_attention():
        if dev.type == "cuda":
            torch.cuda.empty_cache(), torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            import resource
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        model(x), sync()  # warm-up (and the peak)
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if dev.type == "cuda" else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x), sync()
            times.append(time.perf_counter() - t0)
    return {"ms": 1000 * sorted(times)[len(times) // 2], "mib": peak}


def in_subprocess(kind: str, size: int, batch: int, device: str, repeats: int, threads: int) -> dict:
    here = str(Path(__file__).resolve().parent)
    code = (f"import torch, json; torch.set_num_threads({threads}); import sys; sys.path.insert(0, {here!r}); "
            f"import sgformer as b; print(json.dumps(b.measure({kind!r}, {size}, {batch}, {device!r}, {repeats})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(sizes: list[int], values: list[float]) -> float:
    """Least-squares exponent k of value ~ tokens^k (tokens = (size/4)^2)."""
    lx = [math.log((s / 4) ** 2) for s in sizes]
    ly = [math.log(max(v, 1e-9)) for v in values]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 288, 352])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rows = {k: [] for k in ("sgformer", "global")}
    print(f"device {args.device}, batch {args.batch}, sizes {args.sizes}")
    print(f"{'size':>5} {'tokens':>7} | {'SG ms':>8} {'global ms':>10} {'ratio':>6} | {'SG MiB':>8} {'global MiB':>10} {'ratio':>6}")
    for size in args.sizes:
        for k in rows:
            rows[k].append(in_subprocess(k, size, args.batch, args.device, args.repeats, args.threads))
        a, b = rows["sgformer"][-1], rows["global"][-1]
        print(f"{size:>5} {(size // 4) ** 2:>7} | {a['ms']:>8.1f} {b['ms']:>10.1f} {b['ms'] / a['ms']:>6.2f} | "
              f"{a['mib']:>8.1f} {b['mib']:>10.1f} {b['mib'] / max(a['mib'], 1e-9):>6.2f}")
    k = {kind: (slope(args.sizes, [r["ms"] for r in v]), slope(args.sizes, [r["mib"] for r in v]))
         for kind, v in rows.items()}
    print(f"growth exponent in tokens (latency, memory): SG-Former {k['sgformer'][0]:.2f}, {k['sgformer'][1]:.2f}; "
          f"global attention {k['global'][0]:.2f}, {k['global'][1]:.2f}")
    ok = k["sgformer"][0] < 1.6 and k["sgformer"][0] < k["global"][0]
    print("SG-Former grows clearly slower than quadratic in tokens:", "yes" if ok else "NO")


if __name__ == "__main__":
    main()
