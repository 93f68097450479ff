"""Distilled Datamodel (Ye et al., CVPR 2024), DDM-style: attribution by reverse gradient matching.

Narrated in notebooks/datamodel.py.
"""
from .experiment import (METHODS, DataRecipe, ModelRecipe, Problem, Replay, cluster_per_class, counted_cost,
                         gt_units, make_problem, plant_noise, precision_at_k, retraining_agreement, run_seed,
                         seed_metrics, spearman)
from .kernels import (Distilled, FirstOrder, Matching, Schedule, cluster_mean_grads, cluster_sizes, leave_one_out,
                      leave_one_out_weights, loss_objective, matching_distance, per_sample_grads,
                      reverse_gradient_matching, sample_gradients, sample_losses, stacked_descent, weighted_descent)
from .models import MLP, make_model, resnet18_gn
from .params import SCHEMA

__all__ = ["METHODS", "DataRecipe", "ModelRecipe", "Problem", "Replay", "cluster_per_class", "counted_cost",
           "gt_units", "make_problem", "plant_noise", "precision_at_k", "retraining_agreement", "run_seed",
           "seed_metrics", "spearman", "Distilled", "FirstOrder", "Matching", "Schedule", "cluster_mean_grads",
           "cluster_sizes", "leave_one_out", "leave_one_out_weights", "loss_objective", "matching_distance",
           "per_sample_grads", "reverse_gradient_matching", "sample_gradients", "sample_losses", "stacked_descent",
           "weighted_descent", "MLP", "make_model", "resnet18_gn", "SCHEMA"]
