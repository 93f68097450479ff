"""LinFusion (Liu et al., 2024): generalized linear attention distilled into a diffusion UNet.

Narrated in notebooks/linfusion.py.
"""
from .kernels import (EPS, KERNELS, GeneralizedLinearAttnProcessor, kernel_matrix_attention, linear_attention,
                      phi, residual_mlp, sdpa_attention, softmax_attention)
from .models import (LinFusion, default_config, distillation_loss, layer_outputs, self_attention_layers,
                     trainable_parameters)

__all__ = ["EPS", "KERNELS", "GeneralizedLinearAttnProcessor", "kernel_matrix_attention", "linear_attention",
           "phi", "residual_mlp", "sdpa_attention", "softmax_attention", "LinFusion", "default_config",
           "distillation_loss", "layer_outputs", "self_attention_layers", "trainable_parameters"]
