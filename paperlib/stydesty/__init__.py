"""StyDeSty (Liu et al., ICML 2024): min-max stylization and destylization for single-domain generalization.

Narrated in notebooks/stydesty.py.
"""
from .experiment import (ARM_LABELS, ARMS, CIFAR10_CLASSES, CIFAR10C_GROUPS, Config, DGData, as_float, feature_spread,
                         check_label_space, cifar10c_tensors, evaluate, folder_data, miniature_data,
                         plot_accuracies, plot_search, results_table, run_arm, run_arms, search_position,
                         stylized_examples, summarize, sweep_positions, train_plain, train_stydesty)
from .kernels import (ProbHead, Stylizer, alignment_loss, club_loss, likelihood_loss, make_stylizer, mmd_rbf,
                      straight_through_onehot, stylize)
from .models import (CANDIDATES, NETWORK_CANDIDATES, NETWORK_OFFICIAL_POSITION, NETWORKS, NORMALIZATION,
                     OFFICIAL_POSITION, VARIANTS, DGLeNet, DGNet, check_position)
from .params import SCHEMA

__all__ = ["ARM_LABELS", "ARMS", "CIFAR10_CLASSES", "CIFAR10C_GROUPS", "Config", "DGData", "as_float", "feature_spread",
           "check_label_space", "cifar10c_tensors", "evaluate", "folder_data", "miniature_data",
           "plot_accuracies", "plot_search", "results_table", "run_arm", "run_arms", "search_position",
           "stylized_examples", "summarize", "sweep_positions", "train_plain", "train_stydesty", "ProbHead",
           "Stylizer", "alignment_loss", "club_loss", "likelihood_loss", "make_stylizer", "mmd_rbf",
           "straight_through_onehot", "stylize", "CANDIDATES", "NETWORK_CANDIDATES", "NETWORK_OFFICIAL_POSITION",
           "NETWORKS", "NORMALIZATION", "OFFICIAL_POSITION", "VARIANTS", "DGLeNet", "DGNet", "check_position",
           "SCHEMA"]
