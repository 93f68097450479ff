"""Distribution Shift Inversion (Yu et al., CVPR 2023). Narrated in notebooks/dsi.py."""
from .experiment import (METHODS, Selection, curve_figure, summary_table, TargetLeakError, assert_no_target_in, diffusion_training_data,
                         draw_logits, evaluate, evaluation_domains, invert_all, mean_over, select_on_source,
                         train_classifier, tv_denoise)
from .kernels import (ThresholdError, adaptive_logits, check_steps, check_threshold, ddim_step, forward_mix, max_softmax,
                      reverse_timesteps, shift_inversion)
from .models import DSIClassifier, ShiftInverter
from .params import SCHEMA

__all__ = ["SCHEMA", "METHODS", "Selection", "curve_figure", "summary_table", "TargetLeakError", "assert_no_target_in", "diffusion_training_data",
           "draw_logits", "evaluate", "evaluation_domains", "invert_all", "mean_over", "select_on_source",
           "train_classifier", "tv_denoise", "ThresholdError", "adaptive_logits", "check_steps", "check_threshold", "ddim_step",
           "forward_mix", "max_softmax", "reverse_timesteps", "shift_inversion", "DSIClassifier", "ShiftInverter"]
