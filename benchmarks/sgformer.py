"""Benchmark: SG-Former vs the same model with full global attention, cost as the token count grows.

Both models share SG-Former-S's macro design (stem, widths, depths, FFNs, LePE); the baseline replaces every
attention by multi-head attention over all tokens (``attention="global"``). Attention is computed with explicit
matmuls in both (the official code's way), so memory includes the attention weights. SG-Former is built for 224
and keeps its key/value counts at larger inputs. For each input size, side by side in one run:

* multiply-adds of one forward pass, counted (torch's FLOP counter halved; sorts and gathers are not counted);
* forward time: CPU seconds of a fresh subprocess on CPU (one thread; steadier than wall time on a shared
  machine), wall time on CUDA; the median of a few calls after a warm-up;
* peak memory of the forward pass: on CUDA ``torch.cuda.max_memory_allocated``, on CPU the peak RSS of that
  subprocess over its level after building the model and the input (never the whole-process RSS).

    .venv/bin/python benchmarks/sgformer.py --size cpu      # SG-Former-S at 224, 288, 352 (about 2 minutes)
    .venv/bin/python benchmarks/sgformer.py --size smoke    # the chapter's miniature at 32, 48 px (seconds)

Expectation, stated before measuring: SG-Former's guided blocks keep a fixed number of keys and its hybrid
blocks attend to N/s^2 reduced keys plus fixed windows, so its cost grows about linearly in the tokens N over
these sizes; global attention's N^2 term grows to dominate stage 1 (3136 tokens at 224, 7744 at 352). Targets
(issue 22: cost vs tokens clearly sub-quadratic against global attention): the fitted growth exponent k
(cost ~ N^k) of SG-Former's time and counted multiply-adds at most 1.3, global attention's time exponent at
least 1.5, and at the largest size global attention at least 2x SG-Former's time and 3x its memory.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

from paperlib.core import pick_device
from paperlib.core.bench import Bench, bench_arguments

# smoke only checks that the benchmark runs: in this process (no fresh interpreters), so its memory means nothing
SIZES = {"smoke": dict(model="sgformer_mini", sizes=(32, 48), repeats=1, batch=1, fresh=False),
         "cpu": dict(model="sgformer_s", sizes=(224, 288, 352), repeats=3, batch=1, fresh=True),
         "full": dict(model="sgformer_s", sizes=(224, 320, 448, 640), repeats=5, batch=8, fresh=True)}
ARMS = {"sgformer": "sg", "global": "global"}


def build(model: str, attention: str, device: torch.device):
    import paperlib.sgformer as sg

    return sg.create(model, attention=attention).eval().to(device)


def tokens(model: str, size: int) -> int:
    """Stage-1 tokens: the grid after the stem (stride 4 for S / M / B, 2 for the miniature)."""
    stride = 2 if model == "sgformer_mini" else 4
    return math.ceil(size / stride) ** 2


def macs(model: str, attention: str, size: int) -> float:
    """Multiply-adds of one forward pass at ``size``, counted on the meta device."""
    import paperlib.sgformer as sg

    with torch.device("meta"):
        net = sg.create(model, attention=attention).eval()
    return sg.count_macs(net, size)


def measure(model: str, attention: str, size: int, batch: int, device: str, repeats: int) -> dict:
    """Forward time (median, ms) and peak memory (MiB) in this process; run in a fresh one for memory."""
    from paperlib.sgformer import explicit_attention

    dev = torch.device(device)
    net = build(model, attention, dev)
    x = torch.randn(batch, 3, size, size, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev), torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        clock, sync = time.perf_counter, (lambda: torch.cuda.synchronize(dev))
    else:
        import resource

        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        clock, sync = time.process_time, (lambda: None)
    with torch.no_grad(), explicit_attention():
        net(x), sync()  # warm-up, and the peak
        peak = ((torch.cuda.max_memory_allocated(dev) - base) / 2**20 if dev.type == "cuda"
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base)
        times = []
        for _ in range(repeats):
            t0 = clock()
            net(x), sync()
            times.append(clock() - t0)
    return {"ms": 1000 * sorted(times)[len(times) // 2], "mib": peak}


def in_subprocess(model: str, attention: str, size: int, batch: int, device: torch.device, repeats: int) -> dict:
    """:func:`measure` in a fresh interpreter with one thread (the peak RSS is then this model's alone)."""
    here = str(Path(__file__).resolve().parent)
    code = (f"import torch, json, sys; torch.set_num_threads({torch.get_num_threads()}); sys.path.insert(0, {here!r}); "
            f"import sgformer as b; print(json.dumps(b.measure({model!r}, {attention!r}, {size}, {batch}, "
            f"{str(device)!r}, {repeats})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope k of log y against log x (y ~ x^k)."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-12)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    args = bench_arguments(__doc__)
    dev = pick_device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    cfg = SIZES[args.size]
    bench = Bench("sgformer", args.size, dev, args.out)
    print(f"{cfg['model']} vs global attention on {dev}, batch {cfg['batch']}, sizes {cfg['sizes']}")
    for size in cfg["sizes"]:
        row = {"size": size, "tokens": tokens(cfg["model"], size)}
        for arm, attention in ARMS.items():
            m = (in_subprocess if cfg["fresh"] else measure)(cfg["model"], attention, size, cfg["batch"], dev,
                                                             cfg["repeats"])
            row.update({f"{arm}_gmacs": macs(cfg["model"], attention, size) / 1e9, f"{arm}_ms": m["ms"],
                        f"{arm}_mb": m["mib"]})
        bench.row(**row)
        print(f"{size:>4} px, {row['tokens']:>5} tokens | GMACs SG {row['sgformer_gmacs']:.2f}, global "
              f"{row['global_gmacs']:.2f} | ms SG {row['sgformer_ms']:.0f}, global {row['global_ms']:.0f} | "
              f"MiB SG {row['sgformer_mb']:.0f}, global {row['global_mb']:.0f}")
    bench.figure(x="tokens", ys=("sgformer_ms", "global_ms"), ylabel="ms per forward pass",
                 title="SG-Former vs global attention: time vs stage-1 tokens")
    bench.figure(x="tokens", ys=("sgformer_gmacs", "global_gmacs"), ylabel="GMACs per image",
                 title="SG-Former vs global attention: multiply-adds vs stage-1 tokens")
    bench.figure(x="tokens", ys=("sgformer_mb", "global_mb"), ylabel="MiB (peak of a forward pass)",
                 title="SG-Former vs global attention: memory vs stage-1 tokens")
    rows, n = bench.rows, [r["tokens"] for r in bench.rows]
    k = {arm: growth_exponent(n, [r[f"{arm}_ms"] for r in rows]) for arm in ARMS}
    k_macs = {arm: growth_exponent(n, [r[f"{arm}_gmacs"] for r in rows]) for arm in ARMS}
    span = f"{n[0]}..{n[-1]} tokens"
    bench.ratio("sgformer_time_exponent", k["sgformer"], target=1.3, higher_is_better=False, unit="",
                statement=f"SG-Former: growth exponent k of time ~ tokens^k over {span}")
    bench.ratio("global_time_exponent", k["global"], target=1.5, unit="",
                statement=f"global attention: growth exponent k of time ~ tokens^k over {span}")
    bench.ratio("sgformer_macs_exponent", k_macs["sgformer"], target=1.3, higher_is_better=False, unit="",
                statement=f"SG-Former: growth exponent k of counted multiply-adds over {span}")
    last = rows[-1]
    bench.ratio("time_ratio_largest", last["global_ms"] / last["sgformer_ms"], target=2,
                statement=f"global attention / SG-Former time at {last['tokens']} tokens")
    bench.ratio("memory_ratio_largest", last["global_mb"] / max(last["sgformer_mb"], 1e-9), target=3,
                statement=f"global attention / SG-Former peak memory at {last['tokens']} tokens")
    bench.save()


if __name__ == "__main__":
    main()
