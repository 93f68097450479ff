"""Benchmark: every leave-one-cluster-out run through the synset vs by real retraining, side by side.

For each training-set size N (K = 30 clusters), the same leave-one-out runs (all K removals plus the full run,
the same recorded schedule from the same theta_0) four ways: real retraining one run after another (how
retraining is done) and stacked into one computation (``leave_one_out(stack=0)``), and the replay on the
distilled synset one run after another (before) and stacked (the chapter's way). The synset is distilled
first (offline, timed separately, not part of the ratio). Times are CPU seconds of this process on CPU
(one thread; steadier than wall time on a shared machine), wall seconds on CUDA.

    .venv/bin/python benchmarks/datamodel.py --size cpu        # N = 300, 600, 1200 (about 2 minutes)
    .venv/bin/python benchmarks/datamodel.py --size smoke      # seconds

Expectation, stated before measuring: a step costs about c*B + o (B samples a step, o the fixed cost of a step
of a tiny model). One by one, the synset replay pays o per run and step, which capped the ratio at about 4x
(issue 22: 1.5x / 2.8x / 4.2x at N = 300 / 600 / 1200). Stacked, o is paid once per step for all runs, so
the ratio approaches the counted bound N/K (per-sample gradients) and grows with N.
"""
from __future__ import annotations

import time

import torch

from paperlib.core import pick_device
from paperlib.core.bench import Bench, bench_arguments
from paperlib.datamodel import (DataRecipe, Matching, Schedule, leave_one_out, leave_one_out_weights, loss_objective,
                                make_model, make_problem, reverse_gradient_matching, sample_gradients)

SIZES = {"smoke": dict(ns=(100, 200), steps=20), "cpu": dict(ns=(300, 600, 1200), steps=300)}


def clock(fn, device: torch.device) -> tuple[object, float]:
    """(result, seconds): CPU time of this process on CPU, wall time on CUDA."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize(device)
        return out, time.perf_counter() - t0
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def measure(n: int, steps: int, device: torch.device) -> dict[str, float]:
    problem = make_problem(DataRecipe(image_size=8, clusters_per_class=3, noisy_clusters=3, n_train=n))
    x, y, cluster = problem.x.to(device), problem.y.to(device), problem.cluster.to(device)
    model = make_model("mlp", tuple(x.shape[1:]), problem.num_classes, 64, seed=0).to(device)
    theta0 = {k: v.detach() for k, v in model.named_parameters()}
    schedule = Schedule(steps=steps, lr=0.5)
    objective = loss_objective(model, problem.x_eval.to(device), problem.y_eval.to(device), problem.num_classes)
    s0, y_syn = x[problem.medoid.to(device)], problem.y_unit.to(device)
    matching = Matching(every=5, steps=3, lr=0.05, low=float(x.min()), high=float(x.max()))
    distilled, offline = clock(lambda: reverse_gradient_matching(model, theta0, x, y, cluster, s0, y_syn, schedule,
                                                                 matching), device)
    units = list(range(problem.K))
    w_syn, all_units = distilled.sizes.to(device=device, dtype=x.dtype), torch.arange(problem.K, device=device)
    w_real = torch.ones(len(y), dtype=x.dtype, device=device)

    def synset(stack: int):
        return leave_one_out(model, theta0, distilled.s, y_syn, w_syn, all_units, units, schedule, objective, stack)

    def real(stack: int):
        return leave_one_out(model, theta0, x, y, w_real, cluster, units, schedule, objective, stack)

    (_, a_stacked), synset_stacked = clock(lambda: synset(0), device)
    (_, a_sequential), synset_sequential = clock(lambda: synset(1), device)
    torch.testing.assert_close(a_stacked, a_sequential, rtol=1e-3, atol=1e-5)  # the same numbers either way
    _, real_sequential = clock(lambda: real(1), device)
    _, real_stacked = clock(lambda: real(0), device)
    return {"N": len(y), "K": problem.K, "runs": len(units) + 1, "offline_s": offline,
            "real_one_by_one_s": real_sequential, "real_stacked_s": real_stacked,
            "synset_one_by_one_s": synset_sequential, "synset_stacked_s": synset_stacked,
            "real_grads": sample_gradients(leave_one_out_weights(w_real, cluster, units), schedule),
            "synset_grads": sample_gradients(leave_one_out_weights(w_syn, all_units, units), schedule)}


def main() -> None:
    args = bench_arguments(__doc__)
    device = pick_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    bench = Bench("datamodel", args.size, device, args.out)
    size = SIZES["smoke" if args.size == "smoke" else "cpu"]
    for n in size["ns"]:
        row = bench.row(**measure(n, size["steps"], device))
        row.update(speedup=row["real_one_by_one_s"] / row["synset_stacked_s"],
                   speedup_vs_stacked_real=row["real_stacked_s"] / row["synset_stacked_s"],
                   speedup_before=row["real_one_by_one_s"] / row["synset_one_by_one_s"],
                   counted_ratio=row["real_grads"] / row["synset_grads"])
        print(f"N={row['N']:>5} K={row['K']} runs={row['runs']} | real one by one {row['real_one_by_one_s']:.2f} s, "
              f"stacked {row['real_stacked_s']:.2f} s | synset one by one {row['synset_one_by_one_s']:.2f} s, "
              f"stacked {row['synset_stacked_s']:.3f} s | speedup {row['speedup']:.1f}x (before "
              f"{row['speedup_before']:.1f}x; vs stacked real {row['speedup_vs_stacked_real']:.1f}x; "
              f"counted bound N/K {row['counted_ratio']:.0f}x)", flush=True)
    bench.figure(x="N", ys=("real_one_by_one_s", "real_stacked_s", "synset_one_by_one_s", "synset_stacked_s"),
                 ylabel="seconds for all leave-one-out runs", title="leave-one-out: real retraining vs synset replay")
    first, last = bench.rows[0], bench.rows[-1]
    bench.ratio("speedup", last["speedup"], target=20,
                statement=f"leave-one-out through the stacked synset vs real retraining at N={last['N']}")
    bench.ratio("speedup_vs_stacked_real", last["speedup_vs_stacked_real"], target=20,
                statement=f"the same, real retraining stacked too, at N={last['N']}")
    bench.ratio("speedup_growth", last["speedup"] / first["speedup"], target=1.5,
                statement=f"speedup at N={last['N']} over speedup at N={first['N']} (grows with N)")
    bench.save()


if __name__ == "__main__":
    main()
