"""SG-Former (Ren et al., ICCV 2023): self-guided transformer with significance-driven token reallocation.

Importing this package registers ``sgformer_s``, ``sgformer_m``, ``sgformer_b`` (and the chapter's
``sgformer_mini``) with timm. Narrated in notebooks/sgformer.py.
"""
from .experiment import CanvasData, CanvasRecipe, TrainRecipe, arm_widths, canvas_data, run_miniature, train
from .kernels import (OFFICIAL_GUIDES, GlobalAttention, HybridScaleAttention, SignificanceGuidedAttention,
                      SpatialReductionAttention, attention, explicit_attention, local_window_attention, part_bounds,
                      rank_merge, reallocation_counts, significance_map, sincos_pos_embed)
from .maps import peak_hits, stage1_map, token_boxes
from .miniature import KINDS, LABELS, MINI, build, count_macs, cpu_latency, matched_width, mini_layout
from .models import MINI_GUIDE, VARIANTS, SGFormer, create, load_official
from .params import DROP_PATH, SCHEMA

__all__ = [
    "CanvasData", "CanvasRecipe", "TrainRecipe", "arm_widths", "canvas_data", "run_miniature", "train",
    "OFFICIAL_GUIDES", "GlobalAttention", "HybridScaleAttention", "SignificanceGuidedAttention",
    "SpatialReductionAttention", "attention", "explicit_attention", "local_window_attention", "part_bounds",
    "rank_merge", "reallocation_counts", "significance_map", "sincos_pos_embed", "peak_hits", "stage1_map",
    "token_boxes", "KINDS", "LABELS", "MINI", "build", "count_macs", "cpu_latency", "matched_width", "mini_layout",
    "MINI_GUIDE", "VARIANTS", "SGFormer", "create", "load_official", "DROP_PATH", "SCHEMA",
]
