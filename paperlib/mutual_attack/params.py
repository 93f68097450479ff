"""Parameters of the mutual-modality attack chapter (notebooks/mutual_attack.py); full scale from the card."""
from __future__ import annotations

from ..core.params import Param, Schema

SCHEMA = Schema("mutual_attack", (
    Param("eps", float, {"smoke": 0.1, "cpu": 0.1, "full": 10 / 255},
          "L-infinity budget on [0, 1] pixels (card: 10/255 at ImageNet scale; 0.1 on 16x16 digits)",
          low=0.0, high=1.0),
    Param("budgets", list, {"smoke": [0.1], "cpu": [0.05, 0.1, 0.2],
                            "full": [4 / 255, 8 / 255, 10 / 255, 16 / 255]},
          "budgets of the success-vs-budget sweep (one seed)"),
    Param("rounds", int, {"smoke": 2, "cpu": 4, "full": 10}, "alternating rounds R (attack, then defense)", low=1),
    Param("steps_attack", int, {"smoke": 2, "cpu": 25, "full": 500}, "generator steps T_a per round", low=1),
    Param("steps_defense", int, {"smoke": 1, "cpu": 10, "full": 100}, "prompt steps T_d per round", low=1),
    Param("batch_size", int, {"smoke": 16, "cpu": 32, "full": 32}, "training batch of the generator", low=1),
    Param("lr_generator", float, {"smoke": 5e-3, "cpu": 5e-3, "full": 2e-4},
          "Adam lr of the generator (CDA/BIA: 2e-4; larger for the short miniature)", low=0.0),
    Param("lr_prompt", float, 2e-3, "Adam lr of the prompt context", low=0.0),
    Param("lam", float, 1.0, "weight of the semantic (embedding-cosine) term of the attack loss", low=0.0),
    Param("gamma", float, 1.0, "weight of the clean term of the defense loss", low=0.0),
    Param("gen_width", int, {"smoke": 8, "cpu": 16, "full": 64}, "generator width", low=1),
    Param("pgd_steps", int, {"smoke": 3, "cpu": 10, "full": 10}, "PGD and MI-FGSM iterations", low=1),
    Param("target_steps", int, {"smoke": 30, "cpu": 300, "full": 300},
          "training steps of each miniature target (full scale loads timm weights instead)", low=1),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "attack seeds (generator init, data order, noise)",
          low=1, high=20),
    Param("n_test", int, {"smoke": 64, "cpu": 397, "full": 5000}, "test images attacked (a fixed prefix)", low=1),
    Param("data_root", str, None, "ImageNet-style folder for full scale (None: the digits miniature)",
          path=True, optional=True),
), description="Mutual-modality attack: a perturbation generator against CLIP whose prompts re-match the "
               "perturbed images, transferred to unseen classifiers")
