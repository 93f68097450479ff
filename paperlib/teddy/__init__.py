"""Teddy (ECCV 2024): Taylor-approximated dataset distillation with a pre-cached pool of weak models.

Narrated in notebooks/teddy.py.
"""
from .data import FolderData, TensorData, load_real
from .experiment import (METHODS, Comparison, Distilled, compare_methods, cost_sweep, taylor_agreement, distill_teddy, distill_unrolled, evaluate_set, init_synthetic,
                         heldout_accuracy, train_on_set)
from .kernels import (DISTANCES, SavedBytes, classifier_loss, cosine_distance, dot_distance, gradient_match,
                      inner_step, taylor_grad, taylor_objective, teddy_grad, trajectory, unrolled_grad,
                      unrolled_objective, weights_of)
from .models import ARCHS, ConvNet, make_model, prune_channels
from .params import SCHEMA
from .pool import POOL_KINDS, Pool, build_pools

__all__ = ["FolderData", "TensorData", "load_real", "METHODS", "Comparison", "compare_methods", "taylor_agreement", "Distilled", "cost_sweep", "distill_teddy", "distill_unrolled",
           "evaluate_set", "init_synthetic", "heldout_accuracy", "train_on_set", "DISTANCES", "SavedBytes",
           "classifier_loss", "cosine_distance", "dot_distance", "gradient_match", "inner_step", "taylor_grad",
           "taylor_objective", "teddy_grad", "trajectory", "unrolled_grad", "unrolled_objective", "weights_of",
           "ARCHS", "ConvNet", "make_model", "prune_channels", "SCHEMA", "POOL_KINDS", "Pool", "build_pools"]
