"""The datamodel chapter's parameters (``paperlib run datamodel -p name value``) and their cross-field checks."""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema


def _folders_together(p: Params) -> str | None:
    if (p.data_dir is None) != (p.eval_dir is None):
        return "data_dir and eval_dir go together: training and evaluation folders, or neither (the digits)"
    return None


def _noise_fits_the_digits(p: Params) -> str | None:
    if p.data_dir is None and p.noisy_clusters > 10 * p.clusters_per_class:
        return (f"noisy_clusters={p.noisy_clusters} is more than the {10 * p.clusters_per_class} clusters of the "
                f"digits (10 classes x clusters_per_class={p.clusters_per_class})")
    return None


def _truth_covers_the_noise(p: Params) -> str | None:
    if 0 < p.gt_units < p.noisy_clusters:
        return (f"gt_units={p.gt_units} cannot hold the {p.noisy_clusters} planted noisy clusters "
                f"(raise gt_units, or 0 for all clusters)")
    return None


def _noise_floor_needs_two_seeds(p: Params) -> str | None:
    if p.seeds < 2:
        return "seeds: the retraining noise floor compares two initialisations, so seeds must be >= 2"
    return None


SCHEMA = Schema("datamodel", (
    Param("data_dir", str, None, "training images as root/<class>/<image> (null: the canonical digits)",
          path=True, optional=True),
    Param("eval_dir", str, None, "evaluation images as root/<class>/<image> (with data_dir)", path=True,
          optional=True),
    Param("image_size", int, {"smoke": 8, "cpu": 8, "full": 32}, "side of the (square) input images", low=8),
    Param("arch", str, {"smoke": "mlp", "cpu": "mlp", "full": "resnet18"}, "target model",
          choices=("mlp", "resnet18")),
    Param("hidden", int, {"smoke": 32, "cpu": 64, "full": 64}, "MLP hidden width", low=1),
    Param("n_train", int, {"smoke": 300, "cpu": 0, "full": 0}, "training samples used (0: all)", low=0),
    Param("n_test", int, {"smoke": 100, "cpu": 0, "full": 1000}, "evaluation samples, the columns of A (0: all)",
          low=0),
    Param("clusters_per_class", int, {"smoke": 2, "cpu": 3, "full": 10}, "k-means clusters per class: the units",
          low=1),
    Param("noisy_clusters", int, {"smoke": 2, "cpu": 3, "full": 10}, "whole clusters relabelled to a wrong class",
          low=0),
    Param("steps", int, {"smoke": 40, "cpu": 300, "full": 19550}, "optimiser steps of every real training run",
          low=1),
    Param("lr", float, {"smoke": 0.5, "cpu": 0.5, "full": 0.05}, "learning rate", low=0),
    Param("momentum", float, {"smoke": 0.0, "cpu": 0.0, "full": 0.9}, "SGD momentum", low=0, high=0.999),
    Param("weight_decay", float, {"smoke": 0.0, "cpu": 0.0, "full": 5e-4}, "coupled weight decay", low=0),
    Param("decay", str, {"smoke": "constant", "cpu": "constant", "full": "cosine"}, "learning-rate decay",
          choices=("constant", "cosine")),
    Param("batch_size", int, {"smoke": 0, "cpu": 0, "full": 128}, "real-data batch (0: full batch)", low=0),
    Param("match_every", int, {"smoke": 5, "cpu": 5, "full": 10}, "real steps between matching checkpoints",
          low=1),
    Param("match_steps", int, {"smoke": 3, "cpu": 3, "full": 2}, "Adam steps on the synset per checkpoint", low=0),
    Param("match_lr", float, {"smoke": 0.05, "cpu": 0.05, "full": 0.01}, "Adam learning rate of the synset", low=0),
    Param("match_samples", int, {"smoke": 0, "cpu": 0, "full": 64}, "members per cluster behind each cluster "
          "gradient at a checkpoint (0: all)", low=0),
    Param("match_l2_weight", float, 1.0, "weight of the relative L2 term next to 1 - cos", low=0),
    Param("replay_steps", int, {"smoke": 0, "cpu": 0, "full": 3910}, "steps of each replay on the synset (0: as "
          "many as the real run; fewer: rates scaled to keep their sum)", low=0),
    Param("replay_stack", int, 0, "leave-one-out replays computed together in one stacked model (0: all)", low=0),
    Param("gt_units", int, {"smoke": 0, "cpu": 0, "full": 20}, "clusters retrained for the ground truth "
          "(0: all)", low=0),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "initialisations theta_0 (seed, seed+1, ...)", low=1),
), description="Distilled Datamodel: leave-one-cluster-out through a synset learnt by reverse gradient matching",
   checks=(Check(_folders_together, {"data_dir": "."}), Check(_noise_fits_the_digits, {"noisy_clusters": 21}),
           Check(_truth_covers_the_noise, {"gt_units": 1}), Check(_noise_floor_needs_two_seeds, {"seeds": 1})))
