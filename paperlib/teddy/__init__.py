"""Teddy (ECCV 2024): Taylor-approximated dataset distillation with a pre-cached pool of weak models.

Narrated in notebooks/teddy.py.
"""
from .cost import cost_sweep
from .data import TensorData, load_real
from .distill import (OBJECTIVES, Distilled, TeddyRecipe, UnrolledRecipe, distill_teddy, distill_unrolled,
                      init_synthetic, jittered)
from .experiment import (METHODS, Comparison, EvalRecipe, UnrolledPlan, compare_methods, evaluate_set,
                         heldout_accuracy, iteration_flops, plan_unrolled, stream, taylor_agreement, train_on_set)
from .full import FolderData, load_folders
from .kernels import (DISTANCES, MAX_GRAPH_IMAGES, bn_statistics_loss, classifier_loss, cosine_distance,
                      dot_distance, gradient_match, inner_step, taylor_grad, taylor_objective, teddy_grad, trajectory,
                      unrolled_grad, unrolled_objective, weights_of)
from .models import ARCHS, ConvNet, make_model, prune_channels
from .params import SCHEMA
from .pool import POOL_KINDS, Pool, PoolRecipe, build_pools

__all__ = ["cost_sweep", "TensorData", "load_real", "OBJECTIVES", "Distilled",
           "TeddyRecipe", "UnrolledRecipe", "distill_teddy", "distill_unrolled", "init_synthetic", "jittered",
           "METHODS", "Comparison", "EvalRecipe", "UnrolledPlan", "compare_methods", "evaluate_set",
           "heldout_accuracy", "iteration_flops", "plan_unrolled", "stream", "taylor_agreement", "train_on_set",
           "FolderData", "load_folders", "DISTANCES", "MAX_GRAPH_IMAGES", "bn_statistics_loss", "classifier_loss",
           "cosine_distance", "dot_distance", "gradient_match", "inner_step", "taylor_grad", "taylor_objective",
           "teddy_grad", "trajectory", "unrolled_grad", "unrolled_objective", "weights_of", "ARCHS", "ConvNet",
           "make_model", "prune_channels", "SCHEMA", "POOL_KINDS", "Pool", "PoolRecipe", "build_pools"]
