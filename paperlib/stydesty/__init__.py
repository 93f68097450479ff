"""StyDeSty (Liu et al., ICML 2024): min-max stylization and destylization for single-domain generalization.

Narrated in notebooks/stydesty.py. Modules: ``kernels`` (G, the head, the losses), ``models`` (the
backbones split into F and H), ``data`` (the miniature and the batch sampler), ``train`` (recipes and
loops), ``experiment`` (arms, evaluation, sweep), ``report`` (tables and figures), ``full`` (the paper's
benchmarks from local folders), ``params`` (the schema).
"""
from .data import DGData, as_float, check_label_space, miniature_data
from .experiment import (ARM_LABELS, ARMS, POSITIONED, arm_label, evaluate, feature_spread, per_seed, run_arm, run_arms, summarize,
                         train_at_positions)
from .full import CIFAR10_CLASSES, CIFAR10C_GROUPS, cifar10c_tensors, first_by_index, folder_data
from .kernels import (ProbHead, Stylizer, alignment_loss, club_loss, likelihood_loss, make_stylizer, mmd_rbf,
                      straight_through_onehot, stylize)
from .models import (CANDIDATES, NETWORK_CANDIDATES, NETWORK_OFFICIAL_POSITION, NETWORKS, NORMALIZATION,
                     OFFICIAL_POSITION, VARIANTS, DGLeNet, DGNet, check_position)
from .params import SCHEMA
from .report import plot_accuracies, plot_search, plot_sweep, results_table, stylized_examples, sweep_table
from .train import (GameRecipe, NetRecipe, SearchRecipe, TrainRecipe, search_position, train_game,
                    train_plain)

__all__ = ["DGData", "as_float", "check_label_space", "miniature_data", "ARM_LABELS", "ARMS", "POSITIONED",
           "arm_label", "evaluate",
           "feature_spread", "per_seed", "run_arm", "run_arms", "summarize", "train_at_positions", "CIFAR10_CLASSES",
           "CIFAR10C_GROUPS", "cifar10c_tensors", "first_by_index", "folder_data", "ProbHead", "Stylizer",
           "alignment_loss", "club_loss", "likelihood_loss", "make_stylizer", "mmd_rbf", "straight_through_onehot",
           "stylize", "CANDIDATES", "NETWORK_CANDIDATES", "NETWORK_OFFICIAL_POSITION", "NETWORKS", "NORMALIZATION",
           "OFFICIAL_POSITION", "VARIANTS", "DGLeNet", "DGNet", "check_position", "SCHEMA", "plot_accuracies",
           "plot_search", "plot_sweep", "results_table", "stylized_examples", "sweep_table", "GameRecipe",
           "NetRecipe", "SearchRecipe", "TrainRecipe", "search_position", "train_game", "train_plain"]
