"""Benchmark: every leave-one-cluster-out run through the synset vs by real retraining, as a ratio.

Both sides run the same code (``leave_one_out`` over the same units, the same recorded schedule from the
same theta_0); only the training set differs: the N real samples, or the K synthetic ones weighted by n_k.
The synset is distilled first (offline, timed separately and not part of the ratio).

    .venv/bin/python benchmarks/datamodel.py [--scale cpu] [--sizes 300 600 1200] [--units 10] [--device auto]

Expectation, stated before measuring: a full-batch step costs about c*B + o (B samples per step, o the
fixed per-step cost of a tiny model), so the per-run ratio is (c*N + o) / (c*K + o): below N/K (10, 20, 40
for N = 300, 600, 1200 with K = 30) and growing with N, roughly linearly once c*N dominates o.
"""
from __future__ import annotations

import argparse
import time

import torch

from paperlib.core import pick_device
from paperlib.datamodel import (SCHEMA, gt_units, leave_one_out, loss_objective, make_model, make_problem,
                                reverse_gradient_matching, schedule_of)
from paperlib.datamodel.kernels import Matching


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="cpu", choices=("smoke", "cpu"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[300, 600, 1200])
    ap.add_argument("--units", type=int, default=10, help="clusters removed (0: all); the ratio is per run")
    ap.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the scale's)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    rows = []
    for n in args.sizes:
        p = SCHEMA.resolve(scale=args.scale, device=args.device, n_train=n, steps=args.steps)
        pr = make_problem(p)
        units = gt_units(pr, args.units, p.seed)
        x, y, cluster = pr.x.to(device), pr.y.to(device), pr.cluster.to(device)
        model = make_model(p.arch, tuple(x.shape[1:]), pr.num_classes, p.hidden, p.seed).to(device)
        theta0 = {k: v.detach() for k, v in model.named_parameters()}
        schedule = schedule_of(p, p.seed)
        objective = loss_objective(model, pr.x_eval.to(device), pr.y_eval.to(device), pr.num_classes)
        s0, y_syn = x[pr.medoid.to(device)], pr.y_unit.to(device)
        matching = Matching(every=p.match_every, inner_steps=p.match_steps, lr=p.syn_lr, l2_weight=p.l2_weight,
                            low=float(x.min()), high=float(x.max()), samples=p.match_samples, seed=p.seed)
        distilled, t_off = timed(lambda: reverse_gradient_matching(model, theta0, x, y, cluster, s0, y_syn,
                                                                   schedule, matching), device)
        w_syn = distilled.sizes.to(device=device, dtype=x.dtype)
        _, t_syn = timed(lambda: leave_one_out(model, theta0, distilled.s, y_syn, w_syn,
                                               torch.arange(pr.K, device=device), units, schedule.full_batch(),
                                               objective), device)
        _, t_real = timed(lambda: leave_one_out(model, theta0, x, y, torch.ones(len(y), dtype=x.dtype,
                                                                                 device=device),
                                                cluster, units, schedule, objective), device)
        rows.append((len(y), pr.K, len(units), p.steps, t_off, t_syn, t_real))
    print(f"device: {device} ({torch.get_num_threads()} threads); every run {rows[0][3]} full-batch steps")
    print(f"{'N':>6} {'K':>4} {'runs':>5} {'N/K':>6} {'offline s':>10} {'synset s':>9} {'real s':>8} {'ratio':>7}")
    for n, k, u, _, t_off, t_syn, t_real in rows:
        print(f"{n:>6} {k:>4} {u + 1:>5} {n / k:>6.1f} {t_off:>10.2f} {t_syn:>9.2f} {t_real:>8.2f} "
              f"{t_real / t_syn:>7.2f}")
    n, k, u, _, t_off, t_syn, t_real = rows[-1]
    ratio = t_real / t_syn
    print(f"ratio at N={n}: {ratio:.2f}x (target >= 3x); offline overhead pays off after "
          f"{t_off / max(1e-9, (t_real - t_syn) / (u + 1)):.1f} leave-one-out runs")


if __name__ == "__main__":
    main()
