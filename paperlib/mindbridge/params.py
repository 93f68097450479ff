"""The mindbridge chapter's parameters (``paperlib run mindbridge -p name value``).

Full-scale values follow the official scripts (littlepure2333/MindBridge ``scripts/*.sh``); see the card.
"""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema

#: digits available as training stimuli of the simulated subjects (train + validation splits)
SIMULATION_POOL = 1400


def shares_in_range(p: Params) -> str | None:
    if not p.sharing or any(not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in p.sharing):
        return f"parameter 'sharing': expected a non-empty list of shares in [0, 1], got {p.sharing!r}"
    return None


def fractions_in_range(p: Params) -> str | None:
    if not p.fractions or any(not isinstance(v, (int, float)) or not 0 < v <= 1 for v in p.fractions):
        return f"parameter 'fractions': expected a non-empty list of shares in (0, 1], got {p.fractions!r}"
    return None


def nsd_at_full_scale(p: Params) -> str | None:
    if p.scale == "full" and p.data_dir is None:
        return ("parameter 'data_dir': the full-scale run reads the Natural Scenes Dataset and needs its folder "
                "(data_dir null runs the simulated subjects, at scale smoke or cpu)")
    return None


def bridge_batch_fits(p: Params) -> str | None:
    if p.bridge_batch_size > p.batch_size:
        return (f"parameter 'bridge_batch_size': at most batch_size ({p.batch_size}); the joint model then takes "
                f"more steps, so that each subject's samples seen stay steps x batch_size")
    return None


def sharing_seeds_fit(p: Params) -> str | None:
    if p.sharing_seeds > p.seeds:
        return f"parameter 'sharing_seeds': at most seeds ({p.seeds}), got {p.sharing_seeds}"
    return None


def enough_digits(p: Params) -> str | None:
    if p.data_dir is None and (p.n_sources + 1) * p.n_train > SIMULATION_POOL:
        return (f"parameters 'n_sources' and 'n_train': {p.n_sources + 1} simulated subjects x {p.n_train} disjoint "
                f"training stimuli need more than the {SIMULATION_POOL} digits available")
    return None


SCHEMA = Schema("mindbridge", (
    Param("data_dir", str, None, "the Natural Scenes Dataset folder as the official README lays it out "
          "(nsddata/, nsddata_stimuli/, webdataset_avg_split/ of MindEye's preprocessing); null: simulated fMRI "
          "(required at full scale)", path=True, optional=True),
    Param("clip_dir", str, {"smoke": None, "cpu": None, "full": "timm/vit_large_patch14_clip_224.openai"},
          "CLIP giving the image and text token targets: an open_clip model folder (open_clip_config.json + "
          "weights) as a path or a hub id in the local cache; null: the zoo's tiny CLIP", optional=True,
          weights=True),
    Param("n_sources", int, {"smoke": 4, "cpu": 4, "full": 3}, "source subjects trained jointly (the new subject "
          "comes on top; NSD: subjects 1, 2, 5, 7, 3, 4, 6, 8 in this order)", low=2, high=8),
    Param("voxels", int, {"smoke": 400, "cpu": 1000, "full": 15724}, "simulated: voxel count of the first "
          "subject (the others have 0.91, 0.83, 0.81, ... of it, like NSD subjects 1, 2, 5, 7); NSD: read "
          "from the files", low=8),
    Param("n_train", int, {"smoke": 60, "cpu": 250, "full": 8859}, "training stimuli per subject "
          "(disjoint between subjects; NSD: at most this many, the first in sorted order)", low=4),
    Param("n_test", int, {"smoke": 60, "cpu": 300, "full": 982}, "held-out stimuli seen by every subject "
          "(NSD: at most this many of the shared test images)", low=4),
    Param("repeats", int, 3, "simulated fMRI repeats per stimulus (train: one per step; test: their mean; NSD: "
          "as in the files)", low=1),
    Param("noise", float, 0.7, "simulated voxel noise (std, signal std = 1; unused with NSD)", low=0),
    Param("sharing", list, {"smoke": [0.5, 0.0], "cpu": [0.5, 0.8, 0.0], "full": [0.5]},
          "simulated: share of the voxel gains common to all subjects (1: one template for all, 0: independent "
          "templates); the first is the chapter's main setting (both experiments), the others repeat the "
          "first experiment (unused with NSD)"),
    Param("pool", str, "max", "voxel aggregation", choices=("max", "avg", "interp")),
    Param("pool_num", int, {"smoke": 128, "cpu": 256, "full": 8192}, "aggregated size P", low=1),
    Param("hidden", int, {"smoke": 64, "cpu": 128, "full": 2048}, "embedding width h", low=1),
    Param("blocks", int, {"smoke": 1, "cpu": 2, "full": 4}, "residual MLP blocks of the translator", low=0),
    Param("rank", int, {"smoke": 16, "cpu": 16, "full": 128}, "adapter bottleneck", low=1),
    Param("batch_size", int, {"smoke": 16, "cpu": 32, "full": 50}, "samples per step of a per-subject model "
          "(and per subject of a reset-tuning step)", low=2),
    Param("bridge_batch_size", int, {"smoke": 4, "cpu": 8, "full": 50}, "samples per subject per step of the "
          "joint model; it takes steps x batch_size / bridge_batch_size steps, so each subject's samples seen "
          "equal the per-subject model's (batch_size / sources: the same samples per update too; full: the "
          "official 50 per subject)", low=2),
    Param("steps", int, {"smoke": 30, "cpu": 120, "full": 106200}, "optimiser steps of each per-subject model "
          "(full: 600 epochs of 177 batches)", low=1),
    Param("adapt_epochs", int, {"smoke": 4, "cpu": 20, "full": 200}, "passes over the new subject's data of "
          "every new-subject arm (steps: adapt_epochs x ceil(n / batch_size) for its n samples; official: 200)",
          low=1),
    Param("lr", float, {"smoke": 3e-3, "cpu": 1e-3, "full": 1.5e-4}, "OneCycle peak learning rate (AdamW)", low=0),
    Param("weight_decay", float, 1e-2, "AdamW weight decay (not on biases and norms)", low=0),
    Param("mse_mult", float, {"smoke": 50.0, "cpu": 50.0, "full": 1e4}, "lambda of the MSE term (the official 1e4 "
          "on 197k-dim targets; scaled to our 1k-dim ones)", low=0),
    Param("tau", float, 0.005, "SoftCLIP temperature", low=1e-6),
    Param("rec_mult", float, 1.0, "weight of the reconstruction loss", low=0),
    Param("cyc_mult", float, 1.0, "weight of the cycle loss", low=0),
    Param("fractions", list, {"smoke": [0.25, 1.0], "cpu": [0.1, 0.25, 1.0], "full": [0.056, 0.169, 0.45]},
          "shares of the new subject's training data (full: 500, 1500, 4000 of 8859)"),
    Param("retrieval_n", int, {"smoke": 30, "cpu": 100, "full": 300}, "candidates in top-1 retrieval", low=2),
    Param("seeds", int, {"smoke": 2, "cpu": 5, "full": 3}, "training seeds (seed, seed+1, ...); simulated: each "
          "seed also draws its own subjects", low=1),
    Param("sharing_seeds", int, {"smoke": 2, "cpu": 3, "full": 1}, "seeds of the first experiment in the other "
          "shares of common structure (the first of the seeds; simulated only)", low=1),
), description="MindBridge: one model for cross-subject fMRI decoding, reset-tuning for a new subject",
    gpus_full=1, time_full="not measured; a few hours per seed on one 80 GB GPU by a FLOP and optimiser-traffic "
    "estimate, three seeds (one process: the paper's 8-GPU accelerate run is not reproduced)",
    checks=(
        Check(shares_in_range, example={"sharing": [1.5]}),
        Check(fractions_in_range, example={"fractions": [0.5, 2.0]}),
        Check(nsd_at_full_scale, example={"scale": "full"}),
        Check(bridge_batch_fits, example={"bridge_batch_size": 1000}),
        Check(enough_digits, example={"n_train": 1000}),
        Check(sharing_seeds_fit, example={"sharing_seeds": 20}),
    ))
