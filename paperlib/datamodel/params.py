"""The datamodel chapter's parameters (``paperlib run datamodel -p name value``)."""
from __future__ import annotations

from ..core.params import Param, Schema

SCHEMA = Schema("datamodel", (
    Param("data_root", str, None, "training images as root/<class>/<image> (null: the canonical digits)",
          path=True, optional=True),
    Param("eval_root", str, None, "evaluation images as root/<class>/<image> (with data_root)", path=True,
          optional=True),
    Param("image_size", int, {"smoke": 8, "cpu": 8, "full": 32}, "side of the (square) input images", low=8),
    Param("arch", str, {"smoke": "mlp", "cpu": "mlp", "full": "resnet18"}, "target model",
          choices=("mlp", "resnet18")),
    Param("hidden", int, {"smoke": 32, "cpu": 64, "full": 64}, "MLP hidden width", low=1),
    Param("n_train", int, {"smoke": 300, "cpu": 0, "full": 0}, "training samples used (0: all)", low=0),
    Param("eval_size", int, {"smoke": 100, "cpu": 0, "full": 1000}, "evaluation samples, the columns of A "
          "(0: all)", low=0),
    Param("clusters_per_class", int, {"smoke": 2, "cpu": 3, "full": 10}, "k-means clusters per class: the units",
          low=1),
    Param("noisy_clusters", int, {"smoke": 2, "cpu": 3, "full": 10}, "whole clusters relabelled to a wrong class",
          low=0),
    Param("steps", int, {"smoke": 40, "cpu": 300, "full": 19550}, "optimiser steps of every training run", low=1),
    Param("lr", float, {"smoke": 0.5, "cpu": 0.5, "full": 0.05}, "learning rate", low=0),
    Param("momentum", float, {"smoke": 0.0, "cpu": 0.0, "full": 0.9}, "SGD momentum", low=0, high=0.999),
    Param("weight_decay", float, {"smoke": 0.0, "cpu": 0.0, "full": 5e-4}, "coupled weight decay", low=0),
    Param("decay", str, {"smoke": "constant", "cpu": "constant", "full": "cosine"}, "learning-rate decay",
          choices=("constant", "cosine")),
    Param("batch_size", int, {"smoke": 0, "cpu": 0, "full": 128}, "real-data batch (0: full batch)", low=0),
    Param("match_every", int, {"smoke": 5, "cpu": 5, "full": 10}, "real steps between matching checkpoints",
          low=1),
    Param("match_steps", int, {"smoke": 3, "cpu": 3, "full": 2}, "Adam steps on the synset per checkpoint", low=0),
    Param("syn_lr", float, {"smoke": 0.05, "cpu": 0.05, "full": 0.01}, "Adam learning rate of the synset", low=0),
    Param("match_samples", int, {"smoke": 0, "cpu": 0, "full": 64}, "members per cluster behind each cluster "
          "gradient at a checkpoint (0: all)", low=0),
    Param("l2_weight", float, 1.0, "weight of the relative L2 term next to 1 - cos", low=0),
    Param("gt_units", int, {"smoke": 0, "cpu": 0, "full": 20}, "clusters retrained for the ground truth "
          "(0: all)", low=0),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 3}, "initialisations theta_0 (seed, seed+1, ...)", low=1),
), description="Distilled Datamodel: leave-one-cluster-out through a synset learnt by reverse gradient matching")
