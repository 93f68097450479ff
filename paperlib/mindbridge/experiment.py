"""MindBridge's two experiments, one seed at a time: one model against one model per subject (under a given
share of structure common to the simulated subjects), and a new subject with little data.

Narrated in notebooks/mindbridge.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from ..core.params import Params, recipe
from ..zoo.pretrained import LoadedClip, load_clip
from .evaluate import evaluate
from .full import nsd_setting
from .models import MindBridge
from .simulate import Setting, SimRecipe, simulated_setting, stimulus_bank
from .train import ModelRecipe, TrainRecipe, build_model, epoch_steps, reset_tuning, train

ARMS = ("reset + pseudo", "reset", "scratch")


@dataclass(frozen=True)
class ProtocolRecipe:
    """How the arms are compared. The joint model takes ``bridge_batch_size`` samples per subject per step, for
    as many steps as give each subject the per-subject model's samples (``steps * batch_size``); new-subject
    arms train ``adapt_epochs`` passes over the new subject's data, for each share in ``fractions``."""

    bridge_batch_size: int
    adapt_epochs: int
    retrieval_n: int
    fractions: tuple[float, ...] = field(default=(1.0,))


@dataclass
class SeedResult:
    """One seed: ``cross[model][subject]`` metrics ("bridge", "single"), ``adapt[(fraction, arm)]`` metrics of
    the new subject (empty when not run), and the trained models (kept on request, for figures)."""

    cross: dict[str, dict[str, dict[str, float]]]
    adapt: dict[tuple[float, str], dict[str, float]]
    models: tuple[MindBridge, dict[str, MindBridge]] | None = None


def targets_clip(p: Params) -> LoadedClip:
    """The CLIP whose tokens are decoded: an open_clip folder (``clip_dir``) or the zoo's tiny CLIP."""
    return load_clip(clip_dir=p.clip_dir) if p.clip_dir else load_clip("tiny_clip", scale=p.scale)


def setting_factory(p: Params, device) -> Callable[[float, int], Setting]:
    """``setting(shared, seed)``: simulated subjects with that share of common structure, drawn for that seed
    (the stimuli and their CLIP targets are computed once); with ``data_dir``, NSD's subjects for every call."""
    clip = targets_clip(p)
    if p.data_dir is not None:
        nsd = nsd_setting(p, clip, device)
        return lambda shared, seed: nsd
    bank = stimulus_bank(clip, p.n_test, device)
    sim = recipe(SimRecipe, p)
    return lambda shared, seed: simulated_setting(bank, sim, shared, seed)


def cross_subject(setting: Setting, m: ModelRecipe, r: TrainRecipe, protocol: ProtocolRecipe, seed: int, device
                  ) -> tuple[MindBridge, dict[str, MindBridge], dict]:
    """One seed of the first experiment: one MindBridge on all source subjects and one per-subject model
    (MindSingle) per subject, each subject's samples seen equal in both (``steps * batch_size``). Returns the
    models and ``{"bridge"|"single": {subject: metrics}}`` on the shared test stimuli."""
    joint = replace(r, batch_size=protocol.bridge_batch_size,
                    steps=max(1, r.steps * r.batch_size // protocol.bridge_batch_size))
    bridge = build_model(setting, setting.sources, m)
    train(bridge, setting, setting.sources, joint, seed, device, desc=f"MindBridge, seed {seed}")
    singles = {}
    for s in setting.sources:
        singles[s.id] = build_model(setting, [s], m, with_builders=False)
        train(singles[s.id], setting, [s], r, seed, device, desc=f"per-subject {s.id}, seed {seed}")
    n = protocol.retrieval_n
    metrics = {"bridge": {s.id: evaluate(bridge, setting, s, n, device) for s in setting.sources},
               "single": {s.id: evaluate(singles[s.id], setting, s, n, device) for s in setting.sources}}
    return bridge, singles, metrics


def new_subject(setting: Setting, bridge: MindBridge, m: ModelRecipe, r: TrainRecipe, protocol: ProtocolRecipe,
                seed: int, device) -> dict[tuple[float, str], dict]:
    """One seed of the second experiment: for each share of the new subject's data (its first ``n``
    samples), reset-tuning of the trained ``bridge`` with and without the pseudo augmentation (the cycle from
    a source subject; sources truncated to the same ``n`` samples, as the official ``--length``), and a
    per-subject model from scratch; ``adapt_epochs`` passes over the ``n`` samples each.
    ``{(fraction, arm): metrics}``."""
    out = {}
    for fr in protocol.fractions:
        target = setting.new.subset(fr)
        n = len(target.train_idx)
        sources = [s.first(n) for s in setting.sources]
        adapt = replace(r, steps=epoch_steps(protocol.adapt_epochs, n, r.batch_size))
        for arm in ARMS:
            if arm == "scratch":
                model = build_model(setting, [target], m, with_builders=False)
                train(model, setting, [target], adapt, seed, device, desc=f"{arm} {fr:g}")
            else:
                model = reset_tuning(bridge, target)
                arm_recipe = adapt if arm == "reset + pseudo" else replace(adapt, cyc_mult=0.0)
                train(model, setting, sources, arm_recipe, seed, device, adapt_target=target, desc=f"{arm} {fr:g}")
            out[(fr, arm)] = {**evaluate(model, setting, target, protocol.retrieval_n, device), "n": n,
                              "steps": adapt.steps}
    return out


def run_seed(setting: Setting, m: ModelRecipe, r: TrainRecipe, protocol: ProtocolRecipe, seed: int, device,
             with_new_subject: bool = True, keep_models: bool = False) -> SeedResult:
    """Both experiments for one seed (the second only when ``with_new_subject``)."""
    bridge, singles, cross = cross_subject(setting, m, r, protocol, seed, device)
    adapt = new_subject(setting, bridge, m, r, protocol, seed, device) if with_new_subject else {}
    return SeedResult(cross, adapt, (bridge, singles) if keep_models else None)
