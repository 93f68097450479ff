"""The mindbridge chapter's parameters (``paperlib run mindbridge -p name value``).

Full-scale values follow the official scripts (littlepure2333/MindBridge ``scripts/*.sh``); see the card.
"""
from __future__ import annotations

from ..core.params import Param, Schema

SCHEMA = Schema("mindbridge", (
    Param("data_root", str, None, "the Natural Scenes Dataset folder as the official README lays it out "
          "(nsddata/, nsddata_stimuli/, webdataset_avg_split/ of MindEye's preprocessing); null: simulated fMRI "
          "(required at full scale)", path=True, optional=True),
    Param("clip_model", str, {"smoke": "tiny_clip", "cpu": "tiny_clip",
                              "full": "timm/vit_large_patch14_clip_224.openai"},
          "CLIP giving the image and text token targets: tiny_clip (the zoo), or an open_clip model folder "
          "(open_clip_config.json + weights) as a path or a hub id in the local cache", weights=True),
    Param("sources", int, {"smoke": 4, "cpu": 4, "full": 3}, "source subjects trained jointly (the new subject "
          "comes on top; NSD: subjects 1, 2, 5, 7, 3, 4, 6, 8 in this order)", low=2, high=8),
    Param("voxels", int, {"smoke": 400, "cpu": 1500, "full": 15724}, "simulated: voxel count of the first "
          "subject (the others have 0.91, 0.83, 0.81, ... of it, like NSD subjects 1, 2, 5, 7); NSD: read "
          "from the files", low=8),
    Param("train_per_subject", int, {"smoke": 60, "cpu": 250, "full": 8859}, "training stimuli per subject "
          "(disjoint between subjects; NSD: at most this many, the first in sorted order)", low=4),
    Param("test_stimuli", int, {"smoke": 60, "cpu": 300, "full": 982}, "held-out stimuli seen by every subject "
          "(NSD: at most this many of the shared test images)", low=4),
    Param("repeats", int, {"smoke": 3, "cpu": 3, "full": 3}, "fMRI repeats per stimulus (train: one per step; "
          "test: their mean; NSD: as in the files)", low=1),
    Param("noise", float, {"smoke": 0.7, "cpu": 0.7, "full": 0.7}, "simulated voxel noise (std, signal std = 1; "
          "unused with NSD)", low=0),
    Param("pool", str, "max", "voxel aggregation", choices=("max", "avg", "interp")),
    Param("pool_num", int, {"smoke": 128, "cpu": 512, "full": 8192}, "aggregated size P", low=1),
    Param("hidden", int, {"smoke": 64, "cpu": 256, "full": 2048}, "embedding width h", low=1),
    Param("blocks", int, {"smoke": 1, "cpu": 2, "full": 4}, "residual MLP blocks of the translator", low=0),
    Param("rank", int, {"smoke": 16, "cpu": 32, "full": 128}, "adapter bottleneck", low=1),
    Param("batch", int, {"smoke": 16, "cpu": 32, "full": 50}, "samples per subject per step", low=2),
    Param("steps", int, {"smoke": 30, "cpu": 300, "full": 106200}, "optimiser steps of joint and per-subject "
          "training (full: 600 epochs of 177 batches)", low=1),
    Param("adapt_steps", int, {"smoke": 20, "cpu": 150, "full": 16000}, "optimiser steps of every new-subject arm "
          "(full: 200 epochs of 80 batches at 4000 samples)", low=1),
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
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 1}, "training seeds (seed, seed+1, ...)", low=1),
    Param("threads", int, {"smoke": 1, "cpu": 1, "full": 8}, "torch CPU threads (1: tiny ops on a shared CPU "
          "lose more to thread sync than they gain)", low=1),
), description="MindBridge: one model for cross-subject fMRI decoding, reset-tuning for a new subject",
    gpus_full=1, time_full="not measured; a few hours on one 80 GB GPU by a FLOP and optimiser-traffic estimate "
    "(one process: the paper's 8-GPU accelerate run is not reproduced)")
