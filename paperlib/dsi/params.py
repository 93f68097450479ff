"""Parameters of the DSI chapter (notebooks/dsi.py); full-scale values from the card / official repo."""
from __future__ import annotations

from ..core.params import Param, Schema

SCHEMA = Schema("dsi", (
    Param("steps", list, {"smoke": [0, 200], "cpu": [0, 100, 200, 300, 400, 600],
                          "full": [0, 200, 400, 600, 800]},
          "noise steps T of the DSI curve (0 = no inversion); the fixed step T* and the adaptive "
          "candidates are chosen among them on source validation data"),
    Param("ddim_stride", int, {"smoke": 100, "cpu": 100, "full": 4},
          "DDIM stride dt in training steps (official: 250-step DDIM over 1000, i.e. 4)", low=1, high=1000),
    Param("draws", int, {"smoke": 1, "cpu": 1, "full": 4}, "noise draws averaged per input", low=1, high=64),
    Param("n_per_domain", int, {"smoke": 8, "cpu": 50, "full": 100000},
          "fixed seeded subsample of each evaluation domain", low=1),
    Param("n_val", int, {"smoke": 16, "cpu": 100, "full": 100000},
          "source validation images used to choose T* and tau", low=2),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "classifier training seeds per method", low=1, high=20),
    Param("clf_steps", int, {"smoke": 40, "cpu": 300, "full": 5000},
          "classifier training steps (DomainBed default: 5000)", low=1),
    Param("clf_width", int, {"smoke": 8, "cpu": 16, "full": 32}, "SmallCNN width", low=1),
    Param("tolerance", float, 0.05,
          "source-validation accuracy we accept to lose: T* is the largest step within it", low=0.0, high=0.99),
    Param("quantile", float, 0.1,
          "tau = this quantile of the clean max-softmax on source validation", low=0.001, high=0.999),
    Param("tv_weight", float, 0.1, "weight of the total-variation denoising baseline", low=0.0),
), description="Distribution Shift Inversion: pull shifted test inputs back to the source with a "
               "source-only diffusion model before classifying them")
