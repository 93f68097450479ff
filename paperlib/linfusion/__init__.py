"""LinFusion (Liu et al., 2024): generalized linear attention distilled into a diffusion UNet.

Narrated in notebooks/linfusion.py.
"""
from .experiment import (Distilled, DistillRecipe, RefineRecipe, distill, eps_mse, judge, kid, make_student, refine,
                         refine_and_judge)
from .kernels import (EPS, KERNELS, GeneralizedLinearAttnProcessor, kernel_matrix_attention, linear_attention,
                      phi, residual_mlp, sdpa_attention, softmax_attention)
from .models import (LinFusion, default_config, distillation_loss, layer_outputs, self_attention_layers,
                     trainable_parameters)
from .params import SCHEMA
from .scaling import (Measurement, SweepRecipe, counted_flops, crossover, loglog_slope, measure,
                      measure_fresh, layer_allocated_peaks, scaling_sweep, series, sweep, token_range,
                      upper_decade, upper_slope)

__all__ = ["SCHEMA", "Distilled", "DistillRecipe", "RefineRecipe", "distill", "eps_mse", "judge", "kid",
           "make_student", "refine", "refine_and_judge", "EPS", "KERNELS", "GeneralizedLinearAttnProcessor",
           "kernel_matrix_attention", "linear_attention", "phi", "residual_mlp", "sdpa_attention",
           "softmax_attention", "LinFusion", "default_config", "distillation_loss", "layer_outputs",
           "self_attention_layers", "trainable_parameters", "Measurement", "SweepRecipe",
           "counted_flops", "crossover", "loglog_slope", "measure", "measure_fresh", "layer_allocated_peaks",
           "scaling_sweep", "series", "sweep", "token_range", "upper_decade", "upper_slope"]
