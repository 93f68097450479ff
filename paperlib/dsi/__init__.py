"""Distribution Shift Inversion (Yu et al., CVPR 2023). Narrated in notebooks/dsi.py."""
from .benchmark import (Benchmark, SourceSplits, TargetLeakError, assert_no_target_in, diffusion_training_data,
                        digits_benchmark, evaluation_domains)
from .experiment import (METHODS, ClassifierRecipe, Selection, SelectionRecipe, curve_figure, evaluate,
                         inversion_logits, mean_over, prepare, select_on_source, summary_table, train_classifier,
                         train_classifiers, tv_denoise)
from .full import FolderSetup, LatentDiffusion, check_source_record, folder_benchmark, source_diffusion, timm_classifier
from .kernels import (ThresholdError, adaptive_logits, check_steps, check_threshold, ddim_step, forward_mix, max_softmax,
                      reverse_timesteps, shift_inversion)
from .models import DSIClassifier, ShiftInverter
from .params import SCHEMA

__all__ = ["SCHEMA", "METHODS", "Benchmark", "ClassifierRecipe", "FolderSetup", "Selection", "SelectionRecipe",
           "SourceSplits", "TargetLeakError", "assert_no_target_in", "curve_figure", "diffusion_training_data",
           "digits_benchmark", "evaluate", "evaluation_domains", "inversion_logits", "mean_over", "prepare",
           "select_on_source", "summary_table", "train_classifier", "train_classifiers", "tv_denoise", "LatentDiffusion",
           "check_source_record", "folder_benchmark", "source_diffusion", "timm_classifier", "ThresholdError",
           "adaptive_logits", "check_steps", "check_threshold", "ddim_step", "forward_mix", "max_softmax",
           "reverse_timesteps", "shift_inversion", "DSIClassifier", "ShiftInverter"]
