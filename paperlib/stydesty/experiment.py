"""StyDeSty's experiment: the arms, their evaluation and the per-position sweep.

Arms (same network, same source data, same number of source batches):
- ``erm``: plain cross-entropy;
- ``erm_in``: ERM with the affine IN layer at the destylization position and no stylizer (the control
  that separates the layer from the game);
- ``randconv``: cross-entropy on [x^T; x^S] with an untrained, randomly re-drawn stylizer G;
- ``advsty``: the min-max game with G, without the IN layer and the F-side consistency terms
  (adversarial stylization only);
- ``stydesty``: the full method (official ``main.py`` loop, the paper's losses).
Narrated in notebooks/stydesty.py, Experiment.
"""
from __future__ import annotations

import math

import torch

from paperlib.core import accuracy

from .data import DGData, as_float
from .models import NETWORK_CANDIDATES, DGNet
from .train import GameRecipe, NetRecipe, TrainRecipe, train_game, train_plain

ARMS = ("erm", "erm_in", "randconv", "advsty", "stydesty")
ARM_LABELS = {"erm": "ERM", "erm_in": "ERM + IN layer", "randconv": "RandConv (random G)",
              "advsty": "adversarial G, no destylization", "stydesty": "StyDeSty"}
#: the arms whose network depends on the position (the IN layer, or where F ends for advsty)
POSITIONED = ("erm_in", "advsty", "stydesty")


@torch.no_grad()
def domain_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy in batches (uint8 or float images), on the model's device."""
    if x.dtype != torch.uint8:
        return accuracy(model, x, y, batch_size)
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        pred = model(as_float(x[i:i + batch_size]).to(device)).argmax(1).cpu()
        correct += (pred == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(y))


def evaluate(model: torch.nn.Module, data: DGData) -> dict[str, float]:
    """Final-iteration accuracy on every domain, ``target_mean`` over the targets and ``source_val`` (the
    source validation split: the only accuracy a single-source method may look at)."""
    acc = {name: domain_accuracy(model, xd, yd) for name, (xd, yd) in data.domains.items()}
    acc["target_mean"] = sum(acc[t] for t in data.targets) / len(data.targets)
    acc["source_val"] = domain_accuracy(model, data.x_val, data.y_val)
    return acc


@torch.no_grad()
def feature_spread(model: DGNet, x: torch.Tensor, n: int = 256) -> float:
    """How much the destylized features F(x) vary across images: the std over images, averaged over
    feature positions. Near 0 means a collapse (F maps every input to the same features)."""
    device = next(model.parameters()).device
    model.eval()
    f = model.features(as_float(x[:n]).to(device))
    return f.flatten(1).std(0, correction=0).mean().item()


def run_arm(arm: str, data: DGData, net: NetRecipe, train: TrainRecipe, game: GameRecipe, seed: int, device,
            position: int) -> dict:
    """Train one arm for one seed and evaluate it. ``position`` places the IN layer (``erm_in``,
    ``stydesty``) or splits F from H (``advsty``); ERM and RandConv ignore it (their result says None)."""
    x, y = data.x_train, data.y_train
    if arm == "erm":
        model, G, log = train_plain(x, y, net, train, seed, device)
    elif arm == "erm_in":
        model, G, log = train_plain(x, y, net, train, seed, device, position=position)
    elif arm == "randconv":
        model, G, log = train_plain(x, y, net, train, seed, device, stylizer_weight=game.aug_weight)
    elif arm in ("advsty", "stydesty"):
        model, G, log = train_game(x, y, net, train, game, seed, device, position=position,
                                   destylize=arm == "stydesty")
    else:
        raise ValueError(f"arm: expected one of {ARMS}, got {arm!r}")
    spread = feature_spread(model, data.x_val) if arm in ("erm_in", "stydesty") else float("nan")
    return {"arm": arm, "seed": seed, "position": position if arm in POSITIONED else None,
            "acc": evaluate(model, data), "log": log, "model": model, "G": G, "spread": spread}


def run_arms(arms: tuple[str, ...], data: DGData, net: NetRecipe, train: TrainRecipe, game: GameRecipe,
             seeds: list[int], device, position: int) -> list[dict]:
    """Every arm for every seed (seed-major, so a partial run still compares arms on equal seeds)."""
    return [run_arm(arm, data, net, train, game, seed, device, position) for seed in seeds for arm in arms]


def train_at_positions(arms: tuple[str, ...], data: DGData, net: NetRecipe, train: TrainRecipe, game: GameRecipe,
                       seed: int, device, positions: list[int] | None = None) -> dict[tuple[str, int], dict]:
    """``arms`` trained with the IN layer at each candidate position (one seed): (arm, position) -> result.
    ``positions`` limits the sweep (default: every candidate of the network)."""
    if positions is None:
        positions = list(range(len(NETWORK_CANDIDATES[net.network])))
    return {(arm, k): run_arm(arm, data, net, train, game, seed, device, k) for k in positions for arm in arms}


def per_seed(results: list[dict], arm: str, name: str, position: int | None = None) -> list[float]:
    """One arm's accuracy on ``name`` for each seed, in seed order (the order every arm ran in); for the
    arms with a position, at ``position``."""
    if (arm in POSITIONED) != (position is not None):
        raise ValueError(f"position: arm {arm!r} " + ("needs a position" if arm in POSITIONED else "has none"))
    return [r["acc"][name] for r in results if r["arm"] == arm and r["position"] == position]


def summarize(results: list[dict], names: list[str]) -> dict[tuple[str, int | None], dict[str, tuple[float, float]]]:
    """(arm, position) -> domain -> (mean, sample std) over seeds."""
    out: dict[tuple[str, int | None], dict[str, tuple[float, float]]] = {}
    for arm, position in dict.fromkeys((r["arm"], r["position"]) for r in results):
        out[arm, position] = {}
        for name in names:
            vals = per_seed(results, arm, name, position)
            m = sum(vals) / len(vals)
            s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else float("nan")
            out[arm, position][name] = (m, s)
    return out


def arm_label(arm: str, position: int | None = None, candidates: tuple[str, ...] = ()) -> str:
    """'StyDeSty, IN after conv2': the arm's name, and where its layer (or F/H split) sits."""
    if position is None:
        return ARM_LABELS[arm]
    where = candidates[position] if candidates else f"position {position}"
    return f"{ARM_LABELS[arm]}, {'F ends' if arm == 'advsty' else 'IN'} after {where}"
