"""LinFusion (Liu et al., 2024): generalized linear attention distilled into a diffusion UNet.

Narrated in notebooks/linfusion.py.
"""
from .experiment import Distilled, distill, eps_mse, generate, judge, kid, make_student, sample_and_judge
from .kernels import (EPS, KERNELS, GeneralizedLinearAttnProcessor, kernel_matrix_attention, linear_attention,
                      phi, residual_mlp, sdpa_attention, softmax_attention)
from .models import (LinFusion, default_config, distillation_loss, layer_outputs, self_attention_layers,
                     trainable_parameters)
from .params import SCHEMA, check_combination
from .scaling import Measurement, crossover, loglog_slope, measure, sweep

__all__ = ["SCHEMA", "check_combination", "Distilled", "distill", "eps_mse", "generate", "judge", "kid", "make_student",
           "sample_and_judge", "EPS", "KERNELS", "GeneralizedLinearAttnProcessor", "kernel_matrix_attention",
           "linear_attention", "phi", "residual_mlp", "sdpa_attention", "softmax_attention", "LinFusion",
           "default_config", "distillation_loss", "layer_outputs", "self_attention_layers",
           "trainable_parameters", "Measurement", "crossover", "loglog_slope", "measure", "sweep"]
