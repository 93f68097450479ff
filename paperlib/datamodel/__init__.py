"""Distilled Datamodel (Ye et al., CVPR 2024), DDM-style: attribution by reverse gradient matching.

Narrated in notebooks/datamodel.py.
"""
from .experiment import (METHODS, Problem, cluster_per_class, gt_units, make_problem, noise_floor, plant_noise,
                         precision_at_k, run_seed, schedule_of, seed_metrics, spearman, speedup)
from .kernels import (Distilled, FirstOrder, Matching, Schedule, cluster_mean_grads, cluster_sizes, leave_one_out,
                      loss_objective, matching_distance, per_sample_grads, reverse_gradient_matching, sample_losses,
                      weighted_descent)
from .models import MLP, make_model, resnet18_gn
from .params import SCHEMA

__all__ = ["METHODS", "Problem", "cluster_per_class", "gt_units", "make_problem", "noise_floor", "plant_noise",
           "precision_at_k", "run_seed", "schedule_of", "seed_metrics", "spearman", "speedup", "Distilled",
           "FirstOrder", "Matching", "Schedule", "cluster_mean_grads", "cluster_sizes", "leave_one_out",
           "loss_objective", "matching_distance", "per_sample_grads", "reverse_gradient_matching",
           "sample_losses", "weighted_descent", "MLP", "make_model", "resnet18_gn", "SCHEMA"]
