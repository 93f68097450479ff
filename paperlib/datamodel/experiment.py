"""The datamodel experiment: digits with planted noisy clusters, DDM vs baselines vs real leave-one-out.

Per seed (a seed draws :math:`\\theta_0` and, with minibatches, the batch order): the offline stage
(:func:`~paperlib.datamodel.kernels.reverse_gradient_matching`, with the first-order baseline accumulated
on the way), the online replays on the distilled synset and on the medoid-only synset (all leave-one-out
runs of a synset stacked into one computation), and the ground truth: real leave-one-cluster-out
retraining from the same :math:`\\theta_0` with the same schedule, one run after another. The functions take
small recipes (:class:`DataRecipe`, :class:`ModelRecipe`, :class:`Replay`, and the kernels'
:class:`~paperlib.datamodel.kernels.Schedule` and :class:`~paperlib.datamodel.kernels.Matching`).
Narrated in notebooks/datamodel.py, "The experiment".
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from torch.func import functional_call

from ..data.digits import digits
from .full import folder_sets
from .kernels import (FirstOrder, Matching, Schedule, cluster_sizes, leave_one_out, leave_one_out_weights,
                      loss_objective, reverse_gradient_matching, sample_gradients, weighted_descent)
from .models import make_model


# --------------------------------------------------------------------------------------------- data
def cluster_per_class(features: np.ndarray, y: np.ndarray, k: int, num_classes: int,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means with ``k`` clusters inside each class; cluster ``c*k + j`` belongs to class ``c``.

    ``features: (N, D)``, ``y: (N,)`` -> ``cluster: (N,)`` ids and ``medoid: (K,)`` row indices (the member
    closest to its centroid). A class with fewer than ``k`` samples is an error.
    """
    if k < 1:
        raise ValueError(f"clusters_per_class: expected an integer >= 1, got {k!r}")
    counts = np.bincount(y, minlength=num_classes)
    short = [(c, int(counts[c])) for c in range(num_classes) if counts[c] < k]
    if short:
        c, n = short[0]
        raise ValueError(f"clusters_per_class={k} is more than the {n} training samples of class {c}: "
                         f"lower clusters_per_class or use more training data")
    cluster = np.empty(len(y), dtype=np.int64)
    medoid = np.empty(k * num_classes, dtype=np.int64)
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(features[idx])
        cluster[idx] = c * k + km.labels_
        for j in range(k):
            members = idx[km.labels_ == j]
            dist = ((features[members] - km.cluster_centers_[j]) ** 2).sum(1)
            medoid[c * k + j] = members[np.argmin(dist)]
    return cluster, medoid


def plant_noise(y: np.ndarray, cluster: np.ndarray, unit_class: np.ndarray, n_noisy: int, num_classes: int,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Relabel ``n_noisy`` whole clusters, each to one other class: ``(y_noisy, noisy_units)``."""
    K = len(unit_class)
    if not 0 <= n_noisy <= K:
        raise ValueError(f"noisy_clusters: expected 0..{K} (the number of clusters), got {n_noisy}")
    rng = np.random.default_rng(seed)
    noisy = np.sort(rng.choice(K, size=n_noisy, replace=False))
    y_noisy = y.copy()
    for u in noisy:
        y_noisy[cluster == u] = (unit_class[u] + rng.integers(1, num_classes)) % num_classes
    return y_noisy, noisy


@dataclass(frozen=True)
class DataRecipe:
    """The training set and its units: digits (or class folders at full scale), k-means clusters per class,
    whole clusters relabelled as planted noise. ``n_train``/``n_test`` = 0 keep every sample."""

    image_size: int
    clusters_per_class: int
    noisy_clusters: int
    n_train: int = 0
    n_test: int = 0
    data_dir: str | None = None
    eval_dir: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class ModelRecipe:
    """The target model (:func:`~paperlib.datamodel.models.make_model`)."""

    arch: str
    hidden: int = 64


@dataclass(frozen=True)
class Replay:
    """The online stage: ``steps`` replay steps (0: as many as the real schedule, at its rates; fewer steps
    scale the rates, :meth:`~paperlib.datamodel.kernels.Schedule.compressed`) and ``stack`` leave-one-out runs
    per stacked computation (0: all of them at once)."""

    steps: int = 0
    stack: int = 0


@dataclass
class Problem:
    """The training set split into units (clusters), with the planted noisy ones, and the evaluation set."""

    x: torch.Tensor          # (N, C, H, W) training inputs
    y: torch.Tensor          # (N,) observed labels (after the planted noise)
    y_clean: torch.Tensor    # (N,) labels before the noise
    cluster: torch.Tensor    # (N,) unit of every sample
    medoid: torch.Tensor     # (K,) row of each unit's medoid
    noisy: list[int]         # the planted noisy units
    x_eval: torch.Tensor     # (J, C, H, W)
    y_eval: torch.Tensor     # (J,)
    num_classes: int

    @property
    def K(self) -> int:
        return len(self.medoid)

    @property
    def sizes(self) -> torch.Tensor:
        return cluster_sizes(self.cluster, self.K)

    @property
    def y_unit(self) -> torch.Tensor:
        """Each unit's (observed) label: every member of a unit shares it."""
        return self.y[self.medoid]


def _subset(n_total: int, n: int, seed: int) -> np.ndarray:
    if n == 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:n])


def make_problem(recipe: DataRecipe) -> Problem:
    """Data, units and noise (the canonical digits unless ``recipe.data_dir`` is given)."""
    if recipe.data_dir is None:
        train, test = digits("train", recipe.image_size), digits("test", recipe.image_size)
        x, y, x_eval, y_eval, num_classes = train.x, train.y, test.x, test.y, 10
    else:
        x, y, x_eval, y_eval, num_classes = folder_sets(recipe.data_dir, recipe.eval_dir, recipe.image_size)
    keep = _subset(len(y), recipe.n_train, recipe.seed)
    x, y = x[keep], y[keep]
    keep_eval = _subset(len(y_eval), recipe.n_test, recipe.seed + 1)
    x_eval, y_eval = x_eval[keep_eval], y_eval[keep_eval]
    y_np = y.numpy()
    cluster, medoid = cluster_per_class(x.flatten(1).numpy(), y_np, recipe.clusters_per_class, num_classes,
                                        recipe.seed)
    unit_class = y_np[medoid]
    y_noisy, noisy = plant_noise(y_np, cluster, unit_class, recipe.noisy_clusters, num_classes, recipe.seed)
    return Problem(x, torch.from_numpy(y_noisy), y, torch.from_numpy(cluster), torch.from_numpy(medoid),
                   noisy.tolist(), x_eval, y_eval, num_classes)


def gt_units(problem: Problem, n: int, seed: int = 0) -> list[int]:
    """The units retrained for the ground truth: every planted noisy unit plus random others, ``n`` in all."""
    K = problem.K
    if n == 0 or n >= K:
        return list(range(K))
    others = [u for u in np.random.default_rng(seed).permutation(K).tolist() if u not in problem.noisy]
    return sorted(problem.noisy + others[:max(0, n - len(problem.noisy))])


# --------------------------------------------------------------------------------------------- one seed
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def accuracy_of(model: torch.nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((functional_call(model, params, (x,)).argmax(1) == y).float().mean())


def run_seed(problem: Problem, model_recipe: ModelRecipe, schedule: Schedule, matching: Matching, replay: Replay,
             seed: int, units: Sequence[int], device: torch.device) -> dict[str, Any]:
    """Offline stage, online replays (DDM and medoid-only) and ground truth for one :math:`\\theta_0`.

    ``seed`` draws :math:`\\theta_0`, the batch order and the matching's member draws. Besides the attribution
    matrices, the result counts each side's per-sample gradients (``grads_*``, the machine-independent cost)
    and times it (``time_*_s``, this machine's wall clock, reported, never judged).
    """
    x, y = problem.x.to(device), problem.y.to(device)
    cluster, sizes = problem.cluster.to(device), problem.sizes.to(device)
    x_eval, y_eval = problem.x_eval.to(device), problem.y_eval.to(device)
    y_syn = problem.y_unit.to(device)
    s0 = x[problem.medoid.to(device)]
    model = make_model(model_recipe.arch, tuple(x.shape[1:]), problem.num_classes, model_recipe.hidden,
                       seed).to(device)
    theta0 = {k: v.detach() for k, v in model.named_parameters()}
    schedule = replace(schedule, order_seed=seed)
    matching = replace(matching, low=float(x.min()), high=float(x.max()), seed=seed)
    objective = loss_objective(model, x_eval, y_eval, problem.num_classes)
    first_order = FirstOrder(model, x_eval, y_eval, sizes)

    _sync(device); t0 = time.perf_counter()
    distilled = reverse_gradient_matching(model, theta0, x, y, cluster, s0, y_syn, schedule, matching, first_order)
    _sync(device); t_offline = time.perf_counter() - t0

    replayed = schedule.full_batch().compressed(replay.steps)
    all_units = torch.arange(problem.K, device=device)
    w_syn = sizes.to(x.dtype)
    _sync(device); t0 = time.perf_counter()
    _, a_ddm = leave_one_out(model, theta0, distilled.s, y_syn, w_syn, all_units, units, replayed, objective,
                             stack=replay.stack)
    _sync(device); t_replay = time.perf_counter() - t0
    _, a_med = leave_one_out(model, theta0, s0, y_syn, w_syn, all_units, units, replayed, objective,
                             stack=replay.stack)
    w_real = torch.ones_like(y, dtype=x.dtype)
    _sync(device); t0 = time.perf_counter()
    m_real, a_gt = leave_one_out(model, theta0, x, y, w_real, cluster, units, schedule, objective, stack=1)
    _sync(device); t_real = time.perf_counter() - t0

    theta_ddm = weighted_descent(model, theta0, distilled.s, y_syn, w_syn, replayed)
    theta_med = weighted_descent(model, theta0, s0, y_syn, w_syn, replayed)
    rows = torch.tensor(list(units), device=device)
    return {
        "seed": seed, "units": list(units),
        "A_ddm": a_ddm.double().cpu(), "A_medoid": a_med.double().cpu(), "A_gt": a_gt.double().cpu(),
        "A_first_order": first_order.scores[rows].double().cpu(),
        "grads_offline": distilled.overhead,
        "grads_replay": sample_gradients(leave_one_out_weights(w_syn, all_units, units), replayed),
        "grads_real": sample_gradients(leave_one_out_weights(w_real, cluster, units), schedule),
        "time_offline_s": t_offline, "time_replay_s": t_replay, "time_real_s": t_real,
        "acc_real": accuracy_of(model, distilled.params, x_eval, y_eval),
        "acc_replay_ddm": accuracy_of(model, theta_ddm, x_eval, y_eval),
        "acc_replay_medoid": accuracy_of(model, theta_med, x_eval, y_eval),
        "loss_real": float(m_real.mean()),
        "distance": distilled.distance, "synset": distilled.s.cpu(), "medoids": s0.cpu(),
    }


# --------------------------------------------------------------------------------------------- metrics
METHODS = ("ddm", "medoid", "first_order")


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two equally shaped arrays, flattened (0 when either is constant)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def precision_at_k(totals: torch.Tensor, units: list[int], noisy: list[int]) -> float:
    """Share of the planted noisy units among the ``k = len(noisy)`` most harmful (most negative total) units."""
    k = len([u for u in noisy if u in units])
    if k == 0:
        return float("nan")
    order = np.argsort(np.asarray(totals, dtype=np.float64), kind="stable")[:k]
    return float(np.mean([units[i] in noisy for i in order]))


def seed_metrics(result: dict[str, Any], noisy: list[int]) -> dict[str, float]:
    """Per-seed scores: overall and total-attribution Spearman against the ground truth, precision at k
    (``precision_random``: a random ranking drawn from the seed, the chance level)."""
    gt = result["A_gt"]
    chance = np.random.default_rng(result["seed"]).permutation(len(result["units"])).astype(np.float64)
    out = {"precision_gt": precision_at_k(gt.sum(1), result["units"], noisy),
           "precision_random": precision_at_k(chance, result["units"], noisy)}
    for name in METHODS:
        a = result[f"A_{name}"]
        out[f"spearman_{name}"] = spearman(a, gt)
        out[f"spearman_total_{name}"] = spearman(a.sum(1), gt.sum(1))
        out[f"precision_{name}"] = precision_at_k(a.sum(1), result["units"], noisy)
    return out


def retraining_agreement(results: list[dict[str, Any]]) -> list[float]:
    """The noise floor, per seed: Spearman of seed ``i``'s ground truth with real retraining from the next
    seed's :math:`\\theta_0` (cyclically): how well an exact leave-one-out from another initialisation agrees
    with this one. Needs two seeds or more."""
    if len(results) < 2:
        raise ValueError("seeds: the retraining noise floor needs at least 2 initialisations")
    return [spearman(results[(i + 1) % len(results)]["A_gt"], r["A_gt"]) for i, r in enumerate(results)]


def counted_cost(result: dict[str, Any]) -> float:
    """Per-sample gradients of DDM (the matching's overhead offline plus every replay) over those of real
    retraining for the same leave-one-out runs."""
    return (result["grads_offline"] + result["grads_replay"]) / result["grads_real"]
