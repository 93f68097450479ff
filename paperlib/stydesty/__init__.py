"""StyDeSty (Liu et al., ICML 2024): min-max stylization and destylization for single-domain generalization.

Narrated in notebooks/stydesty.py.
"""
from .experiment import (ARM_LABELS, ARMS, Config, DGData, check_label_space, evaluate, folder_data,
                         miniature_data, plot_accuracies, plot_search, results_table, run_arm, run_arms,
                         search_position, stylized_examples, summarize, sweep_positions, train_plain,
                         train_stydesty)
from .kernels import (ProbHead, Stylizer, alignment_loss, club_loss, likelihood_loss, mmd_rbf,
                      straight_through_onehot, stylize)
from .models import CANDIDATES, OFFICIAL_POSITION, VARIANTS, DGLeNet
from .params import SCHEMA

__all__ = ["ARM_LABELS", "ARMS", "Config", "DGData", "check_label_space", "evaluate", "folder_data",
           "miniature_data", "plot_accuracies", "plot_search", "results_table", "run_arm", "run_arms",
           "sweep_positions", "search_position", "stylized_examples", "summarize", "train_plain",
           "train_stydesty", "ProbHead", "Stylizer", "alignment_loss", "club_loss", "likelihood_loss", "mmd_rbf",
           "straight_through_onehot", "stylize", "CANDIDATES", "OFFICIAL_POSITION", "VARIANTS", "DGLeNet",
           "SCHEMA"]
