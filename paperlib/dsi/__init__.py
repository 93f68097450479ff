"""Distribution Shift Inversion (Yu et al., CVPR 2023). Narrated in notebooks/dsi.py."""
from .experiment import (METHODS, Benchmark, Selection, SourceSplits, TargetLeakError, assert_no_target_in, curve_figure,
                         diffusion_training_data, digits_benchmark, evaluate, evaluation_domains, inversion_logits,
                         mean_over, prepare, select_on_source, summary_table, train_classifier, tv_denoise)
from .full import LatentDiffusion, check_source_record, folder_benchmark, source_diffusion, timm_classifier
from .kernels import (ThresholdError, adaptive_logits, check_steps, check_threshold, ddim_step, forward_mix, max_softmax,
                      reverse_timesteps, shift_inversion)
from .models import DSIClassifier, ShiftInverter
from .params import SCHEMA, check_setup

__all__ = ["SCHEMA", "check_setup", "METHODS", "Benchmark", "Selection", "SourceSplits", "TargetLeakError",
           "assert_no_target_in", "curve_figure", "diffusion_training_data", "digits_benchmark", "evaluate",
           "evaluation_domains", "inversion_logits", "mean_over", "prepare", "select_on_source", "summary_table",
           "train_classifier", "tv_denoise", "LatentDiffusion", "check_source_record", "folder_benchmark",
           "source_diffusion", "timm_classifier", "ThresholdError", "adaptive_logits", "check_steps",
           "check_threshold", "ddim_step", "forward_mix", "max_softmax", "reverse_timesteps", "shift_inversion",
           "DSIClassifier", "ShiftInverter"]
